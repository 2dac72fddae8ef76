"""selfcheck.py - proves the reference and the file writers without the C engine.

    /usr/bin/python3 tests/ref/selfcheck.py

1. Parameter counts of the full-size presets equal the exact counts in architectures.md
   (checks weight_shapes and the config reading against numbers computed independently;
   StableLM-2-12B's is not in the spec and is computed by hand in FULL_PARAMS).
2. Writers: every file written is read back by the small readers in model_files.py; after
   undoing each format's transforms (q/k permutation, Gemma's +1, repeated LS blocks) the
   weights equal the originals bit for bit (or their F16/BF16 rounding).
3. The q/k permutation written into GGUF llama and .bin files, used with adjacent-pair RoPE,
   gives the same attention scores as the HF weights with rotate-half RoPE.
4. The readers agree with real files: stories260K.gguf (made by llama.cpp) and
   stories260K.bin (made by llama2.c) hold the same tensors.
5. Identities the reference must satisfy: causality; layer sharing = the blocks written out
   twice; share_embedding = an lm_head copy of the embedding; GQA = MHA with repeated kv
   heads; Phi-3's fused tensors = split ones; a window >= T = no window; Qwen v1 = its Qwen2
   renaming; Gemma's (1 + w) = a stored gain; StableLM-2-12B's per-head QK LayerNorm removes
   a per-head shift of q and k (so it acts over head_dim, per head, before RoPE).
Ends with "selfcheck: N passed, M failed".
"""

import os
import shutil
import sys
import tempfile

import numpy as np

sys.dont_write_bytecode = True      # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import model_files as mf            # noqa: E402
import model_ref as ref             # noqa: E402
import presets                      # noqa: E402

# Exact counts from architectures.md Part 2 / family sections (StableLM: the spec's computed
# value; the card's differs by 98,304, unresolved there).
FULL_PARAMS = {
    "tinyllama": 1_100_048_384, "mobilellm": 345_355_200, "mobilellm_ls": 345_355_200,
    "gemma": 2_506_172_416, "qwen": 1_836_828_672, "phi2": 2_779_683_840,
    "phi3": 3_821_079_552, "stablelm2": 1_644_515_328, "qwen2": 1_836_828_672,
    # StableLM-2-12B: not in the spec; computed here from presets.FULL (whose intermediate_size
    # and vocab are UNVERIFIED): V=100352, H=5120, I=13824, L=40, 32 heads / 8 kv x 160.
    # Per layer: LayerNorm w+b 2H = 10,240; q, o H^2 = 2 x 26,214,400; k, v 1280 x H =
    # 2 x 6,553,600 (no bias); per-head qk gains (32 + 8) x 160 = 6,400; MLP 3HI = 212,336,640
    # -> 277,889,280; x 40 = 11,115,571,200; embed + lm_head 2VH = 1,027,604,480; final
    # LayerNorm 10,240.
    "stablelm2_12b": 12_143_185_920,
}


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print("%-4s %s" % ("ok" if ok else "FAIL", what))
        return ok


def same(a, b, loose=()):
    """Bitwise-equal dicts of arrays; names in `loose` may differ by float32 rounding near 1
    (Gemma's norms come back as (w + 1) - 1, which is not always w exactly)."""
    if set(a) != set(b):
        return False
    for k in a:
        if a[k].shape != b[k].shape:
            return False
        if k in loose:
            if max_diff(a[k], b[k]) > 2.0 ** -23:
                return False
        elif not np.array_equal(a[k], b[k]):
            return False
    return True


def max_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def test_tokens(vocab, n=64, seed=1234):
    return np.random.default_rng(seed).integers(0, vocab, n).tolist()


# ---------------------------------------------------------------------------------------------

def check_param_counts(t):
    for name, cfg in presets.FULL.items():
        n = sum(int(np.prod(s)) for _, s, _ in ref.weight_shapes(ref.features(cfg)))
        t.check(n == FULL_PARAMS[name], "params %s %d (spec %d)" % (name, n, FULL_PARAMS[name]))


def check_writers(t, name, cfg, w, tmp):
    """Round trips of every writer for one preset."""
    d = os.path.join(tmp, name)
    feat = ref.features(cfg)
    for dtype, shards in (("F32", 1), ("F32", 2), ("F16", 1), ("BF16", 1)):
        hd = os.path.join(d, "hf-%s-%d" % (dtype, shards))
        mf.write_hf_dir(hd, cfg, w, dtype, shards)
        cfg2, w2 = mf.read_hf_dir(hd)
        t.check(cfg2 == cfg and same(w2, mf.round_like_hf(w, dtype)),
                "roundtrip %s hf-%s shards=%d" % (name, dtype.lower(), shards))
    for dtype in ("F32", "F16"):
        path = os.path.join(d, "model-%s.gguf" % dtype)
        mf.write_gguf(path, cfg, w, dtype)
        meta, tens, types = mf.read_gguf(path)
        back = mf.gguf_to_hf(cfg, tens)
        arch = mf.GGUF_ARCH[cfg["model_type"]]
        loose = [k for k in w if feat.norm_plus_one and k.endswith("norm.weight")]
        # Gemma's +1: the stored gain must be exactly float32(w + 1)
        plus_one = all(np.array_equal(tens[g], w[h] + np.float32(1.0))
                       for g, h in (("output_norm.weight", "model.norm.weight"),
                                    ("blk.0.attn_norm.weight",
                                     "model.layers.0.input_layernorm.weight"))
                       ) if feat.norm_plus_one else True
        # F16 files: 2-D weights F16, everything else F32, including the 2-D stacked
        # attn_q_norm / attn_k_norm gains (the converter keeps "*_norm.weight" F32)
        ok = (plus_one and same(back, mf.round_like_gguf(w, dtype), loose)
              and meta["general.architecture"] == arch
              and meta[arch + ".block_count"] == feat.n_apply()
              and all(((types[k] == mf.GGML_F16)
                       == (dtype == "F16" and v.ndim == 2 and not k.endswith("_norm.weight")))
                      for k, v in tens.items()))
        # a tied model must have no output tensor; an untied one must have it
        ok = ok and (("output.weight" in tens) == (not feat.tied))
        # a parallel residual has no ffn_norm (GGUF readers infer it from that absence)
        ok = ok and (("blk.0.ffn_norm.weight" in tens) == (not feat.parallel_residual))
        if feat.qk_norm_per_head:
            # stacked per-head gains: numpy [heads, head_dim] = ggml {head_dim, heads}, row h
            # = HF norms.h (checked directly, not only through gguf_to_hf)
            H, Hkv, hd = feat.n_heads, feat.n_kv_heads, feat.head_dim
            for g in range(feat.n_apply()):
                i = feat.block_of(g)
                for gn, hn, heads in (("attn_q_norm", "q_layernorm", H),
                                      ("attn_k_norm", "k_layernorm", Hkv)):
                    a = tens.get("blk.%d.%s.weight" % (g, gn))
                    ok = ok and a is not None and a.shape == (heads, hd) and all(
                        np.array_equal(a[h], w["model.layers.%d.self_attn.%s.norms.%d.weight"
                                                % (i, hn, h)]) for h in range(heads))
        else:
            ok = ok and not any(k.endswith(("attn_q_norm.weight", "attn_k_norm.weight"))
                                for k in tens)
        if arch == "stablelm":
            ok = ok and meta["stablelm.use_parallel_residual"] is True
        t.check(ok, "roundtrip %s gguf-%s" % (name, dtype.lower()))
    if cfg["model_type"] in ("llama", "mobilellm"):
        path = os.path.join(d, "model.bin")
        mf.write_llama2c_bin(path, cfg, w)
        hdr, arrays = mf.read_llama2c_bin(path)
        ok = (same(mf.llama2c_to_hf(cfg, arrays), w)
              and (hdr["vocab_size"] > 0) == feat.tied and hdr["n_layers"] == feat.n_apply())
        t.check(ok, "roundtrip %s llama2c" % name)


def check_permutation(t, name, cfg, w):
    """Adjacent-pair RoPE on permuted q/k rows = rotate-half RoPE on HF rows (scores)."""
    feat = ref.features(cfg)
    T = 40
    h = np.random.default_rng(7).standard_normal((T, feat.dim)).astype(np.float32)
    cos, sin = ref.rope_tables(T, feat.rope_dim, feat.rope_theta, np.float32)
    n = ref.block_names(feat, 0)
    wq, wk = w[n["q"] + ".weight"], w[n["k"] + ".weight"]
    H, Hkv, hd = feat.n_heads, feat.n_kv_heads, feat.head_dim

    def scores(q, k):
        g = H // Hkv
        return np.stack([q[:, i] @ k[:, i // g].T for i in range(H)])

    q1 = ref.rope_rotate_half((h @ wq.T).reshape(T, H, hd), cos, sin)
    k1 = ref.rope_rotate_half((h @ wk.T).reshape(T, Hkv, hd), cos, sin)
    q2 = ref.rope_adjacent((h @ mf.permute_rope_rows(wq, H).T).reshape(T, H, hd), cos, sin)
    k2 = ref.rope_adjacent((h @ mf.permute_rope_rows(wk, Hkv).T).reshape(T, Hkv, hd), cos, sin)
    diff = max_diff(scores(q1, k1), scores(q2, k2))
    # and the wrong direction must not pass: use the inverse permutation instead
    q3 = ref.rope_adjacent((h @ mf.unpermute_rope_rows(wq, H).T).reshape(T, H, hd), cos, sin)
    k3 = ref.rope_adjacent((h @ mf.unpermute_rope_rows(wk, Hkv).T).reshape(T, Hkv, hd), cos, sin)
    wrong = max_diff(scores(q1, k1), scores(q3, k3))
    t.check(diff < 1e-4 and wrong > 1e-2,
            "permutation %s max_abs=%.2e (inverse: %.2e)" % (name, diff, wrong))


def check_rope_formula(t):
    """rope_rotate_half against the spec's per-element formula, partial rotation included."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 2, 20)).astype(np.float64)
    d_rot, theta = 8, 10000.0
    cos, sin = ref.rope_tables(5, d_rot, theta, np.float64)
    y = ref.rope_rotate_half(x, cos, sin)
    h = d_rot // 2
    z = x.copy()
    for p in range(5):
        for i in range(h):
            a = p * theta ** (-2.0 * i / d_rot)
            z[p, :, i] = x[p, :, i] * np.cos(a) - x[p, :, i + h] * np.sin(a)
            z[p, :, i + h] = x[p, :, i + h] * np.cos(a) + x[p, :, i] * np.sin(a)
    t.check(max_diff(y, z) < 1e-12, "rope rotate-half formula (partial 8 of 20)")


def check_identities(t, weights):
    S = presets.SMALL
    logits = {}

    def run(cfg, w, toks=None):
        return ref.forward(ref.features(cfg), w, toks if toks is not None
                           else test_tokens(cfg["vocab_size"]))

    for name, cfg in S.items():
        logits[name] = run(cfg, weights[name])
        lg = logits[name]
        t.check(np.all(np.isfinite(lg)) and 0.3 < float(np.std(lg)) < 30,
                "scale %s logits std=%.2f" % (name, float(np.std(lg))))
        # causality: the first 20 rows do not depend on the later tokens
        toks = test_tokens(cfg["vocab_size"])
        part = run(cfg, weights[name], toks[:20])
        diff = max_diff(part, lg[:20])      # not 0: BLAS sums in another order for T = 20
        t.check(diff < 1e-4, "causal %s max_abs=%.1e" % (name, diff))

    # layer sharing = a plain model with each block written out twice
    cfg = S["mobilellm_ls"]
    w = weights["mobilellm_ls"]
    feat = ref.features(cfg)
    cfg2 = dict(cfg, layer_sharing=False, num_hidden_layers=2 * cfg["num_hidden_layers"])
    w2 = {}
    for k, v in w.items():
        if k.startswith("model.layers."):
            i = int(k.split(".")[2])
            rest = k.split(".", 3)[3]
            w2["model.layers.%d.%s" % (2 * i, rest)] = v
            w2["model.layers.%d.%s" % (2 * i + 1, rest)] = v
        else:
            w2[k] = v
    t.check(max_diff(run(cfg2, w2), logits["mobilellm_ls"]) < 1e-5,
            "identity layer_sharing = blocks twice")
    # and layer sharing really changes the result
    t.check(max_diff(run(dict(cfg, layer_sharing=False), w), logits["mobilellm_ls"]) > 1e-2,
            "identity layer_sharing matters")

    # share_embedding = untied llama with lm_head = embedding
    cfg = S["mobilellm"]
    w = dict(weights["mobilellm"])
    w["lm_head.weight"] = w["model.embed_tokens.weight"]
    cfg2 = dict(cfg, model_type="llama", share_embedding=False)
    t.check(max_diff(run(cfg2, w), logits["mobilellm"]) < 1e-5,
            "identity share_embedding = lm_head copy")

    # GQA = MHA with each kv head repeated for its query heads (consecutive grouping)
    cfg = S["tinyllama"]
    w = dict(weights["tinyllama"])
    feat = ref.features(cfg)
    g = feat.n_heads // feat.n_kv_heads
    for i in range(feat.n_layers):
        for r in ("k_proj", "v_proj"):
            k = "model.layers.%d.self_attn.%s.weight" % (i, r)
            heads = w[k].reshape(feat.n_kv_heads, feat.head_dim, feat.dim)
            w[k] = np.repeat(heads, g, axis=0).reshape(-1, feat.dim)
    cfg2 = dict(cfg, num_key_value_heads=feat.n_heads)
    t.check(max_diff(run(cfg2, w), logits["tinyllama"]) < 1e-4, "identity GQA = repeated MHA")

    # Phi-3 fused qkv / gate_up = a llama with the split tensors (window off for both)
    cfg = S["phi3"]
    w = weights["phi3"]
    feat = ref.features(cfg)
    H, hd, F = feat.n_heads, feat.head_dim, feat.ffn_dim
    Hkv = feat.n_kv_heads
    w2 = {}
    for k, v in w.items():
        if k.endswith("qkv_proj.weight"):
            p = k[:-len("qkv_proj.weight")]
            w2[p + "q_proj.weight"] = v[:H * hd]
            w2[p + "k_proj.weight"] = v[H * hd:(H + Hkv) * hd]
            w2[p + "v_proj.weight"] = v[(H + Hkv) * hd:]
        elif k.endswith("gate_up_proj.weight"):
            p = k[:-len("gate_up_proj.weight")]
            w2[p + "gate_proj.weight"] = v[:F]
            w2[p + "up_proj.weight"] = v[F:]
        else:
            w2[k] = v
    nowin = dict(cfg, sliding_window=None)
    llama = dict(cfg, model_type="llama", sliding_window=None)
    a, b = run(nowin, w), run(llama, w2)
    t.check(max_diff(a, b) < 1e-5, "identity phi3 fused = split")
    t.check(max_diff(a, logits["phi3"]) > 1e-2, "identity phi3 window 16 matters")
    t.check(max_diff(run(dict(cfg, sliding_window=64), w), a) < 1e-6,
            "identity window >= T = no window")
    # the boundary: window W means exactly W visible keys (i - W < j <= i)
    m = ref.attention_mask(40, 16)
    t.check(int(m[39].sum()) == 16 and bool(m[39, 24]) and not bool(m[39, 23]),
            "identity window 16 shows keys 24..39 to query 39")

    # Qwen v1 = Qwen2 with the v1 -> v2 renaming (architectures.md 4b)
    cfg = S["qwen"]
    w = weights["qwen"]
    feat = ref.features(cfg)
    d = feat.dim
    w2 = {"model.embed_tokens.weight": w["transformer.wte.weight"],
          "model.norm.weight": w["transformer.ln_f.weight"], "lm_head.weight": w["lm_head.weight"]}
    for i in range(feat.n_layers):
        s, p = "transformer.h.%d." % i, "model.layers.%d." % i
        wq, bq = w[s + "attn.c_attn.weight"], w[s + "attn.c_attn.bias"]
        for j, r in enumerate(("q", "k", "v")):
            w2[p + "self_attn.%s_proj.weight" % r] = wq[j * d:(j + 1) * d]
            w2[p + "self_attn.%s_proj.bias" % r] = bq[j * d:(j + 1) * d]
        w2[p + "self_attn.o_proj.weight"] = w[s + "attn.c_proj.weight"]
        w2[p + "input_layernorm.weight"] = w[s + "ln_1.weight"]
        w2[p + "post_attention_layernorm.weight"] = w[s + "ln_2.weight"]
        w2[p + "mlp.gate_proj.weight"] = w[s + "mlp.w2.weight"]
        w2[p + "mlp.up_proj.weight"] = w[s + "mlp.w1.weight"]
        w2[p + "mlp.down_proj.weight"] = w[s + "mlp.c_proj.weight"]
    cfg2 = {"model_type": "qwen2", "hidden_size": d, "num_attention_heads": feat.n_heads,
            "num_key_value_heads": feat.n_heads, "num_hidden_layers": feat.n_layers,
            "intermediate_size": cfg["intermediate_size"] // 2, "vocab_size": feat.vocab_size,
            "max_position_embeddings": cfg["max_position_embeddings"],
            "rope_theta": float(cfg["rotary_emb_base"]), "rms_norm_eps": cfg["layer_norm_epsilon"],
            "hidden_act": "silu", "tie_word_embeddings": False}
    t.check(max_diff(run(cfg2, w2), logits["qwen"]) < 1e-5, "identity qwen v1 = qwen2 renamed")
    # Qwen v1 long context: the numbers architectures.md gives for seq_length 8192
    alphas = [ref.ntk_alpha(n, 8192) for n in (1, 8192, 8193, 16384, 16385, 32768, 32769)]
    t.check(alphas == [1, 1, 3, 3, 7, 7, 15], "qwen v1 NTK alpha by prompt length: %s" % alphas)
    t.check(abs(10000 * 3 ** (128 / 126) - 30527.7) < 0.1
            and abs(10000 * 7 ** (128 / 126) - 72195.9) < 0.1, "qwen v1 NTK bases 30527.7, 72195.9")
    t.check(ref.logn_factor(8191, 8192) == 1.0 and abs(ref.logn_factor(16383, 8192) - 1.0769) < 1e-4
            and abs(ref.logn_factor(32766, 8192) - 1.1538) < 1e-4, "qwen v1 logn table values")
    # within seq_length neither acts; past it, switched off they give plain RoPE
    toks = test_tokens(cfg["vocab_size"], n=cfg["seq_length"] + 8)
    off = ref.forward(feat, w, toks, alpha=1, logn=False)
    plain = ref.forward(ref.Features(**dict(feat.__dict__, dynamic_ntk=False, logn_attn=False)),
                        w, toks)
    t.check(max_diff(off, plain) == 0.0 and max_diff(ref.forward(feat, w, toks), off) > 1e-3,
            "qwen v1 NTK + logn act past seq_length, and only through alpha and logn")
    # LongRoPE's attention factor for Phi-3-mini-128k (131072 / 4096)
    f = {"rope_dim": 96}
    ref._longrope({"max_position_embeddings": 131072, "original_max_position_embeddings": 4096,
                   "rope_scaling": {"type": "longrope", "short_factor": [1.0] * 48,
                                    "long_factor": [1.0] * 48}}, f)
    t.check(abs(f["attn_factor"] - 1.1902380714238083) < 1e-15, "longrope attention factor")

    # Qwen2's sliding_window is inert while use_sliding_window is false
    cfg = S["qwen2"]
    t.check(max_diff(run(dict(cfg, sliding_window=None), weights["qwen2"]), logits["qwen2"])
            == 0.0, "identity qwen2 use_sliding_window false ignores sliding_window")
    feat = ref.features(cfg)
    feat.sliding_window = cfg["sliding_window"]
    t.check(max_diff(ref.forward(feat, weights["qwen2"], test_tokens(cfg["vocab_size"])),
                     logits["qwen2"]) > 1e-2, "identity qwen2 window would matter if applied")

    # Gemma (1 + w) with stored w = the same net with stored gain 1 + w, if the reader is
    # told the gain is plain. Emulated by a feature edit, as the GGUF path does it.
    cfg = S["gemma"]
    feat = ref.features(cfg)
    feat.norm_plus_one = False
    w = {k: (v + np.float32(1.0) if k.endswith("norm.weight") else v)
         for k, v in weights["gemma"].items()}
    t.check(max_diff(ref.forward(feat, w, test_tokens(cfg["vocab_size"])), logits["gemma"])
            < 1e-5, "identity gemma (1 + w) = plain gain 1 + w")
    # Gemma without embedding scale differs (the scale is applied)
    feat = ref.features(cfg)
    feat.embed_scale = 1.0
    t.check(max_diff(ref.forward(feat, weights["gemma"], test_tokens(cfg["vocab_size"])),
                     logits["gemma"]) > 1e-2, "identity gemma embedding scale matters")

    # StableLM sequential vs parallel residual differ, and parallel drops post_attention norm
    cfg = S["stablelm2"]
    f2 = ref.features(dict(cfg, use_parallel_residual=True))
    t.check("mlp_norm" not in f2.names and f2.parallel_residual,
            "stablelm use_parallel_residual true drops post_attention_layernorm")

    # StableLM-2-12B QK-norm
    check_qk_norm(t, S["stablelm2_12b"], weights["stablelm2_12b"], logits["stablelm2_12b"])


def check_qk_norm(t, cfg, w, lg):
    """Identities of the per-head QK LayerNorm (no bias) on a StableLM-2-12B preset."""
    feat = ref.features(cfg)
    H, Hkv, hd, d = feat.n_heads, feat.n_kv_heads, feat.head_dim, feat.dim
    toks = test_tokens(cfg["vocab_size"])
    names = [k for k, _, _ in ref.weight_shapes(feat)]
    qn = [k for k in names if ".q_layernorm.norms." in k]
    kn = [k for k in names if ".k_layernorm.norms." in k]
    t.check(feat.qk_norm == "layer" and feat.qk_norm_per_head and feat.parallel_residual
            and len(qn) == feat.n_layers * H and len(kn) == feat.n_layers * Hkv
            and not any(".bias" in k for k in qn + kn)
            and not any("post_attention_layernorm" in k for k in names),
            "stablelm qk_layernorm: %d q + %d k per-head gains, no bias, parallel residual"
            % (len(qn), len(kn)))

    def run(c, ww):
        return ref.forward(ref.features(c), ww, toks)

    # The norm matters, and each head uses its own gain (not head 0's for all).
    t.check(max_diff(run(dict(cfg, qk_layernorm=False), w), lg) > 1e-2,
            "identity stablelm qk_layernorm matters")
    w0 = dict(w)
    for k in qn + kn:
        w0[k] = w[k.rsplit(".", 2)[0] + ".0.weight"]
    t.check(max_diff(run(cfg, w0), lg) > 1e-2,
            "identity stablelm qk_layernorm gains are per head")
    # LayerNorm over each head removes a constant added to all head_dim values of that head:
    # add the same random row r_h to every row of head h's block of Wq / Wk. With the norm
    # before RoPE this changes nothing (up to rounding); were it applied after RoPE, over the
    # whole q vector, or not at all, it would. Without qk_layernorm the shift must matter.
    rng = np.random.default_rng(11)
    ws = dict(w)
    for i in range(feat.n_layers):
        for r, heads in (("q_proj", H), ("k_proj", Hkv)):
            k = "model.layers.%d.self_attn.%s.weight" % (i, r)
            shift = rng.standard_normal((heads, 1, d)).astype(np.float32)
            ws[k] = (w[k].reshape(heads, hd, d) + shift).reshape(heads * hd, d)
    t.check(max_diff(run(cfg, ws), lg) < 1e-4,
            "identity stablelm qk LayerNorm removes a per-head q/k shift max_abs=%.1e"
            % max_diff(run(cfg, ws), lg))
    off = dict(cfg, qk_layernorm=False)
    t.check(max_diff(run(off, ws), run(off, w)) > 1e-2,
            "identity the per-head shift matters without qk_layernorm")


def shared_dir():
    """The project's shared/ folder (tests/run.sh exports TLM_SHARED)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("TLM_SHARED") or os.path.normpath(os.path.join(here, "../../../shared"))


def stories260k():
    """(cfg, HF-layout weights) of the real stories260K model from its llama2.c .bin, or None
    if shared/models lacks it. The config is what run.c assumes (eps 1e-5, theta 10000)."""
    path = os.path.join(shared_dir(), "models", "stories260K.bin")
    if not os.path.exists(path):
        return None
    hdr, arrays = mf.read_llama2c_bin(path)
    cfg = {"model_type": "llama", "hidden_size": hdr["dim"],
           "intermediate_size": hdr["hidden_dim"], "num_hidden_layers": hdr["n_layers"],
           "num_attention_heads": hdr["n_heads"], "num_key_value_heads": hdr["n_kv_heads"],
           "vocab_size": abs(hdr["vocab_size"]), "max_position_embeddings": hdr["seq_len"],
           "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "hidden_act": "silu",
           "tie_word_embeddings": hdr["vocab_size"] > 0}
    return cfg, mf.llama2c_to_hf(cfg, arrays)


def check_real_files(t):
    """The readers against files made by the real tools: stories260K.gguf (llama.cpp) and
    stories260K.bin (llama2.c export.py) must hold the same tensors, both in the
    adjacent-pair layout. This pins the conventions the writers follow (ggml dim order,
    GGUF tensor names, .bin order and sign of vocab_size)."""
    base = os.path.join(shared_dir(), "models")
    g, b = os.path.join(base, "stories260K.gguf"), os.path.join(base, "stories260K.bin")
    if not (os.path.exists(g) and os.path.exists(b)):
        t.check(False, "real files: %s/stories260K.{gguf,bin} not found" % base)
        return
    meta, tens, _ = mf.read_gguf(g)
    hdr, a = mf.read_llama2c_bin(b)
    pairs = [("token_embd.weight", a["token_embedding_table"]),
             ("output_norm.weight", a["rms_final_weight"])]
    for i in range(hdr["n_layers"]):
        for gn, bn in (("attn_q", "wq"), ("attn_k", "wk"), ("attn_v", "wv"),
                       ("attn_output", "wo"), ("ffn_gate", "w1"), ("ffn_down", "w2"),
                       ("ffn_up", "w3"), ("attn_norm", "rms_att_weight"),
                       ("ffn_norm", "rms_ffn_weight")):
            pairs.append(("blk.%d.%s.weight" % (i, gn), a[bn][i]))
    # the .bin shares its classifier; the GGUF stores it again as output.weight
    pairs.append(("output.weight", a["wcls"] if "wcls" in a else a["token_embedding_table"]))
    bad = [n for n, x in pairs if n not in tens or not np.array_equal(tens[n], x)]
    t.check(not bad and meta["general.architecture"] == "llama"
            and meta["llama.block_count"] == hdr["n_layers"],
            "real files: stories260K gguf = bin (%d tensors%s)"
            % (len(pairs), ", differ: " + ", ".join(bad[:4]) if bad else ""))


def run_all(t):
    """Every check above, counted in t."""
    check_param_counts(t)
    check_rope_formula(t)
    check_real_files(t)
    weights = {name: mf.random_weights(cfg, 100 + k)
               for k, (name, cfg) in enumerate(presets.SMALL.items())}
    tmp = tempfile.mkdtemp(prefix="tlm-selfcheck-")
    try:
        for name, cfg in presets.SMALL.items():
            check_writers(t, name, cfg, weights[name], tmp)
            if cfg["model_type"] in ("llama", "mobilellm"):
                check_permutation(t, name, cfg, weights[name])
        check_identities(t, weights)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    t = Tally()
    run_all(t)
    print("selfcheck: %d passed, %d failed" % (t.passed, t.failed))
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
