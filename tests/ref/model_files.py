"""model_files.py - writes test models in every format libtinylm reads, and reads them back.

Writers (formats per docs/architectures.md):
    random_weights(cfg, seed)                          HF-named float32 arrays
    write_hf_dir(dir, cfg, weights, dtype, shards)     config.json + safetensors (section 5)
    write_gguf(path, cfg, weights, dtype)              GGUF v3 as llama.cpp's converter writes
                                                       each family ("GGUF conventions")
    write_llama2c_bin(path, cfg, weights)              llama2.c legacy version 0 (section 4)
Readers, for the self-check only (small and trusting; the C readers are the strict ones):
    read_safetensors, read_hf_dir, read_gguf, read_llama2c_bin
    gguf_to_hf, llama2c_to_hf                          undo each format's transforms
                                                       (incl. the stacking of per-head
                                                       QK-norm gains in GGUF)

Only numpy and the standard library: no gguf-py, no safetensors package, no torch.
"""

import json
import math
import os
import struct

import numpy as np

from model_ref import block_names, features, qk_norm_prefixes, weight_shapes


# ---------------------------------------------------------------------------------------------
# Weights and dtype rounding
# ---------------------------------------------------------------------------------------------

def random_weights(cfg, seed):
    """HF-named float32 weights scaled so hidden states stay O(1) and logits O(1..10)."""
    feat = features(cfg)
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape, kind in weight_shapes(feat):
        z = rng.standard_normal(shape)
        if kind == "linear":
            w = z / math.sqrt(shape[1])          # keeps each output's variance ~ its input's
        elif kind == "norm":
            # Gemma stores w and applies (1 + w); elsewhere the stored value is the gain.
            w = 0.1 * z if feat.norm_plus_one else 1.0 + 0.1 * z
        elif kind == "embed":
            w = z
        else:                                    # "bias", "norm_bias"
            w = 0.1 * z
        out[name] = w.astype(np.float32)
    return out


def f16_round(x):
    """Values as stored in float16 (round to nearest even), back in float32."""
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def bf16_bits(x):
    """float32 -> bfloat16 bit patterns (uint16), round to nearest even like torch."""
    u = np.ascontiguousarray(x, np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return u.astype(np.uint16)


def bf16_round(x):
    """Values as stored in bfloat16, back in float32."""
    return bf16_to_f32(bf16_bits(x))


def bf16_to_f32(bits):
    return (np.asarray(bits, np.uint16).astype(np.uint32) << 16).view(np.float32)


def gguf_is_f16(name, arr):
    """Which tensors llama.cpp's converter stores as F16 in an F16 file: 2-D ".weight"
    tensors. 1-D tensors (norms, biases) stay F32."""
    return arr.ndim >= 2 and name.endswith(".weight") and not name.endswith("_norm.weight")


def round_like_gguf(weights, dtype):
    """The HF weights as an F16 GGUF stores them (F32: unchanged). Rounding commutes with
    the converter's transforms: the q/k permutation moves values, and Gemma's +1 is applied
    to norms, which stay F32."""
    if dtype == "F32":
        return dict(weights)
    return {k: f16_round(v) if v.ndim >= 2 else v for k, v in weights.items()}


def round_like_hf(weights, dtype):
    """The HF weights as a safetensors file of that dtype stores them (every tensor)."""
    fn = {"F32": lambda v: v, "F16": f16_round, "BF16": bf16_round}[dtype]
    return {k: fn(v) for k, v in weights.items()}


# ---------------------------------------------------------------------------------------------
# safetensors
# ---------------------------------------------------------------------------------------------

# The format's dtype enum order (architectures.md section 5); the reference writer sorts
# tensors by this order descending, then by name, so each is aligned to its element size.
ST_DTYPE_ORDER = ["BOOL", "F4", "F6_E2M3", "F6_E3M2", "U8", "I8", "F8_E5M2", "F8_E4M3",
                  "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "I16", "U16", "F16", "BF16", "I32",
                  "U32", "F32", "C64", "F64", "I64", "U64"]


def _st_bytes(arr, dtype):
    if dtype == "F32":
        return np.ascontiguousarray(arr, "<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(arr, np.float32).astype("<f2").tobytes()
    if dtype == "BF16":
        return bf16_bits(arr).astype("<u2").tobytes()
    raise ValueError("dtype %r" % dtype)


def write_safetensors(path, tensors, dtype):
    """tensors: name -> float32 array, all stored as dtype ("F32", "F16" or "BF16").
    Returns the number of tensor-data bytes written."""
    items = sorted(tensors.items(),
                   key=lambda kv: (-ST_DTYPE_ORDER.index(dtype), kv[0]))
    header = {"__metadata__": {"format": "pt"}}
    blobs, pos = [], 0
    for name, arr in items:
        b = _st_bytes(arr, dtype)
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [pos, pos + len(b)]}
        blobs.append(b)
        pos += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * (-len(hj) % 8)       # pad with spaces so the buffer starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    return pos


def write_hf_dir(directory, cfg, weights, dtype="F32", shards=1):
    """config.json plus model.safetensors, or for shards > 1 model-0000i-of-0000N.safetensors
    files and model.safetensors.index.json. Tensors go to shards in name order, in runs of
    about equal size."""
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    if shards <= 1:
        write_safetensors(os.path.join(directory, "model.safetensors"), weights, dtype)
        return
    names = sorted(weights)
    sizes = [weights[n].size for n in names]
    total, acc, groups = sum(sizes), 0, [[] for _ in range(shards)]
    for n, s in zip(names, sizes):
        # the shard whose share of the total this tensor's midpoint falls in
        k = min(shards - 1, int((acc + s / 2) * shards / total))
        groups[k].append(n)
        acc += s
    weight_map, total_bytes = {}, 0
    for k, group in enumerate(groups):
        fname = "model-%05d-of-%05d.safetensors" % (k + 1, shards)
        total_bytes += write_safetensors(os.path.join(directory, fname),
                                         {n: weights[n] for n in group}, dtype)
        for n in group:
            weight_map[n] = fname
    index = {"metadata": {"total_size": total_bytes},
             "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)


def read_safetensors(path):
    """name -> float32 array, and name -> stored dtype string."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8:8 + n].decode("utf-8"))
    base = 8 + n
    out, dtypes = {}, {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[base + b:base + e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, "<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        elif dt == "BF16":
            a = bf16_to_f32(np.frombuffer(raw, "<u2"))
        else:
            raise ValueError("dtype %r" % dt)
        out[name] = a.reshape(info["shape"]).astype(np.float32)
        dtypes[name] = dt
    return out, dtypes


def read_hf_dir(directory):
    """(config dict, name -> float32 array) from a directory written by write_hf_dir."""
    with open(os.path.join(directory, "config.json")) as f:
        cfg = json.load(f)
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for fn in files:
        w, _ = read_safetensors(os.path.join(directory, fn))
        weights.update(w)
    return cfg, weights


# ---------------------------------------------------------------------------------------------
# GGUF v3
# ---------------------------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
GGUF_ALIGN = 32
# metadata value types
GV_U8, GV_I8, GV_U16, GV_I16, GV_U32, GV_I32, GV_F32, GV_BOOL, GV_STRING, GV_ARRAY, \
    GV_U64, GV_I64, GV_F64 = range(13)
# ggml tensor types
GGML_F32, GGML_F16 = 0, 1
GGML_BF16 = 30
# general.file_type (llama_ftype)
FTYPE = {"F32": 0, "F16": 1}

GGUF_ARCH = {"llama": "llama", "mobilellm": "llama", "gemma": "gemma", "qwen": "qwen",
             "phi": "phi2", "phi3": "phi3", "stablelm": "stablelm", "qwen2": "qwen2"}

# HF role (model_ref.Features.names) -> GGUF tensor name; "{n}" is the GGUF block index.
GGUF_NAMES = {
    "embed": "token_embd", "final_norm": "output_norm", "lm_head": "output",
    "attn_norm": "blk.{n}.attn_norm", "q": "blk.{n}.attn_q", "k": "blk.{n}.attn_k",
    "v": "blk.{n}.attn_v", "qkv": "blk.{n}.attn_qkv", "o": "blk.{n}.attn_output",
    "mlp_norm": "blk.{n}.ffn_norm", "gate": "blk.{n}.ffn_gate", "up": "blk.{n}.ffn_up",
    # Phi-3's fused gate_up stays fused in ffn_up (silu of its first half times the second)
    "gate_up": "blk.{n}.ffn_up", "down": "blk.{n}.ffn_down",
    # QK-norm gains: per-head ones stacked in head order, ggml {head_dim, heads}
    "q_norm": "blk.{n}.attn_q_norm", "k_norm": "blk.{n}.attn_k_norm",
}


def _gguf_keys(cfg, feat, n_blocks):
    """The {arch}.* keys llama.cpp's convert_hf_to_gguf.py writes for this family, with its
    quirks (architectures.md, "GGUF (llama.cpp) conventions" of each family). Each entry is
    (key without the arch prefix, value type, value)."""
    mt = cfg["model_type"]
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    U, F = GV_U32, GV_F32
    if mt in ("llama", "mobilellm"):
        # MobileLLM has no converter; treated as llama per the spec, with a repeated block
        # written out twice (block_count = 2L) for layer sharing.
        return [("context_length", U, cfg["max_position_embeddings"]),
                ("embedding_length", U, d),
                ("block_count", U, n_blocks),
                ("feed_forward_length", U, cfg["intermediate_size"]),
                ("attention.head_count", U, H),
                ("attention.head_count_kv", U, cfg["num_key_value_heads"]),
                ("rope.freq_base", F, cfg["rope_theta"]),
                ("attention.layer_norm_rms_epsilon", F, cfg["rms_norm_eps"]),
                ("vocab_size", U, cfg["vocab_size"]),
                ("rope.dimension_count", U, cfg.get("head_dim") or d // H)]
    if mt == "gemma":
        # no rope keys at all: the loader's defaults apply
        return [("context_length", U, cfg["max_position_embeddings"]),
                ("embedding_length", U, d),
                ("block_count", U, n_blocks),
                ("feed_forward_length", U, cfg["intermediate_size"]),
                ("attention.head_count", U, H),
                ("attention.head_count_kv", U, cfg["num_key_value_heads"]),
                ("attention.layer_norm_rms_epsilon", F, cfg["rms_norm_eps"]),
                ("attention.key_length", U, cfg["head_dim"]),
                ("attention.value_length", U, cfg["head_dim"])]
    if mt == "qwen":
        # feed_forward_length is the config value (2x the real width); no head_count_kv
        return [("context_length", U, cfg["max_position_embeddings"]),
                ("block_count", U, n_blocks),
                ("embedding_length", U, d),
                ("feed_forward_length", U, cfg["intermediate_size"]),
                ("rope.freq_base", F, cfg["rotary_emb_base"]),
                ("rope.dimension_count", U, d // H),
                ("attention.head_count", U, H),
                ("attention.layer_norm_rms_epsilon", F, cfg["layer_norm_epsilon"])]
    if mt == "phi":
        # feed_forward_length is 4 * n_embd whatever the config says; no rope.freq_base
        return [("context_length", U, cfg["max_position_embeddings"]),
                ("embedding_length", U, d),
                ("feed_forward_length", U, 4 * d),
                ("block_count", U, n_blocks),
                ("attention.head_count", U, H),
                ("attention.head_count_kv", U, H),
                ("attention.layer_norm_epsilon", F, cfg["layer_norm_eps"]),
                ("rope.dimension_count", U, int(cfg["partial_rotary_factor"] * d) // H)]
    if mt == "phi3":
        # LongRoPE (128k): the converter adds attn_factor; the factor lists become tensors
        extra = [("rope.scaling.attn_factor", F, feat.attn_factor)] if feat.longrope else []
        return extra + [("context_length", U, cfg["max_position_embeddings"]),
                ("rope.scaling.original_context_length", U,
                 cfg["original_max_position_embeddings"]),
                ("embedding_length", U, d),
                ("feed_forward_length", U, cfg["intermediate_size"]),
                ("block_count", U, n_blocks),
                ("attention.head_count", U, H),
                ("attention.head_count_kv", U, cfg["num_key_value_heads"]),
                ("attention.layer_norm_rms_epsilon", F, cfg["rms_norm_eps"]),
                ("rope.dimension_count", U, d // H),
                ("rope.freq_base", F, cfg["rope_theta"]),
                ("attention.sliding_window", U, cfg.get("sliding_window") or 0)]
    if mt == "stablelm":
        # No rope.freq_base. use_parallel_residual is written true: real StableLM-2-1.6B GGUFs
        # say true although the model is sequential (their config lacks the key and the
        # converter defaults it to true); an engine must decide from ffn_norm's presence.
        # (For StableLM-2-12B true is also the config's value.) No key announces QK-norm:
        # the attn_q_norm / attn_k_norm tensors do.
        return [("context_length", U, cfg["max_position_embeddings"]),
                ("embedding_length", U, d),
                ("block_count", U, n_blocks),
                ("feed_forward_length", U, cfg["intermediate_size"]),
                ("rope.dimension_count", U, int(cfg["partial_rotary_factor"] * (d // H))),
                ("attention.head_count", U, H),
                ("attention.head_count_kv", U, cfg["num_key_value_heads"]),
                ("use_parallel_residual", GV_BOOL, True),
                ("attention.layer_norm_epsilon", F, cfg["layer_norm_eps"])]
    if mt == "qwen2":
        # the converter's generic keys only (no rope.dimension_count, no sliding window)
        return [("block_count", U, n_blocks),
                ("context_length", U, cfg["max_position_embeddings"]),
                ("embedding_length", U, d),
                ("feed_forward_length", U, cfg["intermediate_size"]),
                ("attention.head_count", U, H),
                ("attention.head_count_kv", U, cfg["num_key_value_heads"]),
                ("rope.freq_base", F, cfg["rope_theta"]),
                ("attention.layer_norm_rms_epsilon", F, cfg["rms_norm_eps"])]
    raise NotImplementedError(mt)


def permute_rope_rows(w, n_head):
    """HF rotate-half rows -> adjacent-pair rows, inside each head: HF row j of the first half
    goes to 2j, row j + hd/2 to 2j + 1 (GGUF llama and llama2.c .bin)."""
    rows = w.shape[0]
    hd = rows // n_head
    return (w.reshape(n_head, 2, hd // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape))


def unpermute_rope_rows(w, n_head):
    rows = w.shape[0]
    hd = rows // n_head
    return (w.reshape(n_head, hd // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape))


def gguf_tensors(cfg, weights):
    """HF weights -> ordered list of (GGUF name, float32 array in numpy [out, in] order) with
    the converter's transforms applied, and the number of GGUF blocks."""
    feat = features(cfg)
    arch = GGUF_ARCH[cfg["model_type"]]
    out = []

    def emit(gname, hf_prefix, transform=None):
        for suffix in (".weight", ".bias"):
            if hf_prefix + suffix in weights:
                a = np.asarray(weights[hf_prefix + suffix], np.float32)
                if transform is not None:
                    a = transform(a)
                out.append((gname + suffix, a))

    def norm_transform(a):
        # Gemma: the converter stores 1 + w so the graph uses a plain RMSNorm
        return a + np.float32(1.0) if feat.norm_plus_one else a

    if feat.longrope:   # Phi-3-128k: one F32 [rope_dim / 2] pair shared by every layer
        out.append(("rope_factors_long.weight", np.asarray(feat.rope_long, np.float32)))
        out.append(("rope_factors_short.weight", np.asarray(feat.rope_short, np.float32)))
    emit(GGUF_NAMES["embed"], feat.names["embed"])
    for g in range(feat.n_apply()):
        n = block_names(feat, feat.block_of(g))
        for role, hf_prefix in n.items():
            if role in ("embed", "final_norm", "lm_head"):
                continue
            gname = GGUF_NAMES[role].replace("{n}", str(g))
            if role in ("q_norm", "k_norm"):
                # The converter (StableLM _stack_qk_norm) stacks norms.0 .. norms.{heads-1}
                # along a new first axis: numpy [heads, head_dim] = ggml {head_dim, heads}.
                heads = feat.n_heads if role == "q_norm" else feat.n_kv_heads
                gains = [norm_transform(np.asarray(weights[p + ".weight"], np.float32))
                         for p in qk_norm_prefixes(feat, hf_prefix, heads)]
                out.append((gname + ".weight",
                            np.stack(gains) if feat.qk_norm_per_head else gains[0]))
                continue
            t = None
            if role.endswith("norm"):
                t = norm_transform
            elif arch == "llama" and role == "q":
                t = lambda a: permute_rope_rows(a, feat.n_heads)
            elif arch == "llama" and role == "k":
                t = lambda a: permute_rope_rows(a, feat.n_kv_heads)
            emit(gname, hf_prefix, t)
    emit(GGUF_NAMES["final_norm"], feat.names["final_norm"], norm_transform)
    # Tied heads (Gemma, MobileLLM, any tie_word_embeddings) get no output tensor: the
    # loader reuses token_embd. Gemma's converter also drops an lm_head if one exists.
    if "lm_head" in feat.names:
        emit(GGUF_NAMES["lm_head"], feat.names["lm_head"])
    return out, feat.n_apply()


def _gguf_str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _gguf_value(vtype, v):
    if vtype == GV_U32:
        return struct.pack("<I", v)
    if vtype == GV_F32:
        return struct.pack("<f", v)
    if vtype == GV_BOOL:
        return struct.pack("<B", 1 if v else 0)
    if vtype == GV_STRING:
        return _gguf_str(v)
    raise ValueError(vtype)


def write_gguf(path, cfg, weights, dtype="F32", name=None):
    """GGUF v3 with llama.cpp's converter conventions for this family. dtype "F16" stores
    2-D weights as F16 and keeps 1-D tensors F32, as the converter does."""
    if dtype not in FTYPE:
        raise ValueError("dtype %r" % dtype)
    arch = GGUF_ARCH[cfg["model_type"]]
    tensors, n_blocks = gguf_tensors(cfg, weights)
    kvs = [("general.architecture", GV_STRING, arch),
           ("general.name", GV_STRING, name or cfg["model_type"])]
    kvs += [(arch + "." + k, t, v) for k, t, v in _gguf_keys(cfg, features(cfg), n_blocks)]
    kvs += [("general.file_type", GV_U32, FTYPE[dtype]),
            ("general.quantization_version", GV_U32, 2)]

    head = bytearray()
    head += GGUF_MAGIC + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        head += _gguf_str(k) + struct.pack("<I", t) + _gguf_value(t, v)
    blobs, offset = [], 0
    for gname, a in tensors:
        if dtype == "F16" and gguf_is_f16(gname, a):
            gtype, b = GGML_F16, a.astype("<f2").tobytes()
        else:
            gtype, b = GGML_F32, a.astype("<f4").tobytes()
        ne = list(reversed(a.shape))          # ggml order: ne0 is the row length (in)
        head += _gguf_str(gname) + struct.pack("<I", len(ne))
        head += struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", gtype, offset)
        b += b"\0" * (-len(b) % GGUF_ALIGN)    # each tensor starts aligned
        blobs.append(b)
        offset += len(b)
    head += b"\0" * (-len(head) % GGUF_ALIGN)  # the data section starts aligned
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)


def read_gguf(path):
    """(metadata dict key -> value, name -> float32 array in numpy order, name -> ggml type).
    Handles the value types the writer emits plus the other scalar types and arrays."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != GGUF_MAGIC:
        raise ValueError("not GGUF")
    version, n_t, n_kv = struct.unpack_from("<IQQ", data, 4)
    pos = 24
    scalar = {GV_U8: "<B", GV_I8: "<b", GV_U16: "<H", GV_I16: "<h", GV_U32: "<I",
              GV_I32: "<i", GV_F32: "<f", GV_BOOL: "<B", GV_U64: "<Q", GV_I64: "<q",
              GV_F64: "<d"}

    def rd_str():
        nonlocal pos
        (n,) = struct.unpack_from("<Q", data, pos)
        s = data[pos + 8:pos + 8 + n].decode("utf-8")
        pos += 8 + n
        return s

    def rd_val(t):
        nonlocal pos
        if t == GV_STRING:
            return rd_str()
        if t == GV_ARRAY:
            et, n = struct.unpack_from("<IQ", data, pos)
            pos += 12
            return [rd_val(et) for _ in range(n)]
        fmt = scalar[t]
        (v,) = struct.unpack_from(fmt, data, pos)
        pos += struct.calcsize(fmt)
        return bool(v) if t == GV_BOOL else v

    meta = {"GGUF.version": version}
    for _ in range(n_kv):
        k = rd_str()
        (t,) = struct.unpack_from("<I", data, pos)
        pos += 4
        meta[k] = rd_val(t)
    infos = []
    for _ in range(n_t):
        nm = rd_str()
        (nd,) = struct.unpack_from("<I", data, pos)
        ne = struct.unpack_from("<%dQ" % nd, data, pos + 4)
        gtype, off = struct.unpack_from("<IQ", data, pos + 4 + 8 * nd)
        pos += 4 + 8 * nd + 12
        infos.append((nm, ne, gtype, off))
    align = meta.get("general.alignment", GGUF_ALIGN)
    base = pos + (-pos % align)
    tensors, types = {}, {}
    for nm, ne, gtype, off in infos:
        count = int(np.prod(ne))
        if gtype == GGML_F32:
            a = np.frombuffer(data, "<f4", count, base + off)
        elif gtype == GGML_F16:
            a = np.frombuffer(data, "<f2", count, base + off).astype(np.float32)
        elif gtype == GGML_BF16:
            a = bf16_to_f32(np.frombuffer(data, "<u2", count, base + off))
        else:
            raise ValueError("ggml type %d" % gtype)
        tensors[nm] = a.reshape(tuple(reversed(ne))).astype(np.float32)
        types[nm] = gtype
    return meta, tensors, types


def gguf_to_hf(cfg, tensors):
    """Inverse of gguf_tensors: GGUF-named arrays -> HF-named arrays. Undoes the q/k
    permutation and Gemma's +1, and for layer sharing checks that both copies of each block
    are identical before keeping one."""
    feat = features(cfg)
    arch = GGUF_ARCH[cfg["model_type"]]
    inverse = {}       # GGUF prefix -> (HF prefix, role)
    for g in range(feat.n_apply()):
        for role, hf_prefix in block_names(feat, feat.block_of(g)).items():
            if role not in ("embed", "final_norm", "lm_head"):
                inverse[GGUF_NAMES[role].replace("{n}", str(g))] = (hf_prefix, role)
    for role in ("embed", "final_norm", "lm_head"):
        if role in feat.names:
            inverse[GGUF_NAMES[role]] = (feat.names[role], role)
    out = {}

    def put(key, a):
        if key in out and not np.array_equal(out[key], a):
            raise ValueError("%s: the two copies of a shared block differ" % key)
        out[key] = a

    for gname, a in tensors.items():
        if gname.startswith("rope_factors_"):     # config values (rope_scaling), not weights
            continue
        prefix, suffix = gname.rsplit(".", 1)
        hf_prefix, role = inverse[prefix]
        if role.endswith("norm") and suffix == "weight" and feat.norm_plus_one:
            a = a - np.float32(1.0)
        if arch == "llama" and role == "q":
            a = unpermute_rope_rows(a, feat.n_heads)
        if arch == "llama" and role == "k":
            a = unpermute_rope_rows(a, feat.n_kv_heads)
        if role in ("q_norm", "k_norm") and feat.qk_norm_per_head:
            # unstack: row h of the [heads, head_dim] tensor is head h's gain
            heads = feat.n_heads if role == "q_norm" else feat.n_kv_heads
            if a.shape != (heads, feat.head_dim):
                raise ValueError("%s: shape %s, expected %s"
                                 % (gname, a.shape, (heads, feat.head_dim)))
            for h, p in enumerate(qk_norm_prefixes(feat, hf_prefix, heads)):
                put(p + "." + suffix, a[h])
            continue
        put(hf_prefix + "." + suffix, a)
    return out


# ---------------------------------------------------------------------------------------------
# llama2.c legacy version 0
# ---------------------------------------------------------------------------------------------

def _llama2c_check(cfg, feat):
    """The .bin format has no slot for anything but plain Llama math with eps 1e-5 and theta
    10000 (run.c hard-codes both) and head_size = dim / n_heads."""
    if cfg["model_type"] not in ("llama", "mobilellm"):
        raise ValueError("llama2.c .bin holds only the llama family")
    if (feat.head_dim * feat.n_heads != feat.dim or feat.qkv_bias or feat.o_bias
            or feat.mlp_bias or feat.rope_theta != 10000.0 or feat.norm_eps != 1e-5):
        raise ValueError("this llama config does not fit the llama2.c format")


def write_llama2c_bin(path, cfg, weights):
    """Legacy version-0 checkpoint (run.c). A layer-shared model is written with each block
    twice (n_layers = 2L), as for GGUF. q/k rows are permuted to adjacent pairs."""
    feat = features(cfg)
    _llama2c_check(cfg, feat)
    L = feat.n_apply()
    blocks = [block_names(feat, feat.block_of(a)) for a in range(L)]

    def w(prefix):
        return np.asarray(weights[prefix + ".weight"], np.float32)

    shared = feat.tied
    vocab = feat.vocab_size if shared else -feat.vocab_size   # negative: own classifier
    hs = feat.head_dim
    parts = [w(feat.names["embed"])]
    parts += [w(b["attn_norm"]) for b in blocks]
    parts += [permute_rope_rows(w(b["q"]), feat.n_heads) for b in blocks]
    parts += [permute_rope_rows(w(b["k"]), feat.n_kv_heads) for b in blocks]
    parts += [w(b["v"]) for b in blocks]
    parts += [w(b["o"]) for b in blocks]
    parts += [w(b["mlp_norm"]) for b in blocks]
    parts += [w(b["gate"]) for b in blocks]     # w1
    parts += [w(b["down"]) for b in blocks]     # w2
    parts += [w(b["up"]) for b in blocks]       # w3
    parts += [w(feat.names["final_norm"])]
    # freq_cis_real / imag [seq_len, head_size/2]: written by export.py, skipped by readers
    ang = (np.arange(feat.max_seq)[:, None]
           * 10000.0 ** (-np.arange(0, hs, 2)[None, :] / hs))
    parts += [np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)]
    if not shared:
        parts += [w(feat.names["lm_head"])]
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", feat.dim, feat.ffn_dim, L, feat.n_heads, feat.n_kv_heads,
                            vocab, feat.max_seq))
        for p in parts:
            f.write(np.ascontiguousarray(p, "<f4").tobytes())


def read_llama2c_bin(path):
    """(header dict, dict of the stacked arrays by llama2.c name)."""
    with open(path, "rb") as f:
        data = f.read()
    dim, hidden, L, nh, nkv, vocab, seq = struct.unpack_from("<7i", data, 0)
    shared = vocab > 0
    V = abs(vocab)
    hs = dim // nh
    kvd = nkv * hs
    shapes = [("token_embedding_table", (V, dim)), ("rms_att_weight", (L, dim)),
              ("wq", (L, dim, dim)), ("wk", (L, kvd, dim)), ("wv", (L, kvd, dim)),
              ("wo", (L, dim, dim)), ("rms_ffn_weight", (L, dim)),
              ("w1", (L, hidden, dim)), ("w2", (L, dim, hidden)), ("w3", (L, hidden, dim)),
              ("rms_final_weight", (dim,)), ("freq_cis_real", (seq, hs // 2)),
              ("freq_cis_imag", (seq, hs // 2))]
    if not shared:
        shapes.append(("wcls", (V, dim)))
    pos, out = 28, {}
    for nm, shp in shapes:
        n = int(np.prod(shp))
        out[nm] = np.frombuffer(data, "<f4", n, pos).reshape(shp).astype(np.float32)
        pos += 4 * n
    if pos != len(data):
        raise ValueError("%s: %d bytes, expected %d" % (path, len(data), pos))
    header = dict(dim=dim, hidden_dim=hidden, n_layers=L, n_heads=nh, n_kv_heads=nkv,
                  vocab_size=vocab, seq_len=seq)
    return header, out


def llama2c_to_hf(cfg, arrays):
    """Inverse of write_llama2c_bin (checks both copies of a shared block agree)."""
    feat = features(cfg)
    out = {feat.names["embed"] + ".weight": arrays["token_embedding_table"],
           feat.names["final_norm"] + ".weight": arrays["rms_final_weight"]}
    if "wcls" in arrays:
        out[feat.names["lm_head"] + ".weight"] = arrays["wcls"]
    for a in range(feat.n_apply()):
        b = block_names(feat, feat.block_of(a))
        got = {b["attn_norm"]: arrays["rms_att_weight"][a],
               b["q"]: unpermute_rope_rows(arrays["wq"][a], feat.n_heads),
               b["k"]: unpermute_rope_rows(arrays["wk"][a], feat.n_kv_heads),
               b["v"]: arrays["wv"][a], b["o"]: arrays["wo"][a],
               b["mlp_norm"]: arrays["rms_ffn_weight"][a], b["gate"]: arrays["w1"][a],
               b["down"]: arrays["w2"][a], b["up"]: arrays["w3"][a]}
        for prefix, v in got.items():
            key = prefix + ".weight"
            if key in out and not np.array_equal(out[key], v):
                raise ValueError("%s: the two copies of a shared block differ" % key)
            out[key] = v
    return out
