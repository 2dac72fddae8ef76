#!/usr/bin/python3
"""test_lowk.py - Q2_K, Q3_K and IQ4_XS against NumPy written from GGUF's block definitions
(ggml-common.h's block_q2_K, block_q3_K, block_iq4_xs and its dequantize_row_* formulas), not
from this engine's code.

Run by tests/run.sh with TLM_BUILD (tests/kernels/test_lowk as the helper, tlm-logits).

1. Dequantization, bit for bit (float32 bits, -0 included): random blocks; blocks with every
   pair of extreme f16 scales (d, and dmin for Q2_K, from +-65504, the smallest and largest
   subnormals, +-0 and 1); zero blocks; blocks that together hold every value of every code
   field (2-bit levels, Q3_K's high bits, IQ4_XS nibbles) and every sub-block scale value
   (Q2_K's 4-bit scales and mins, Q3_K's and IQ4_XS's 6-bit scales) in every position.
2. A model in these types loads and runs: a random llama model (rows of 256 and 512) written
   as F32 GGUF, then with every matrix in Q2_K, Q3_K, IQ4_XS, and once as a mix (attention
   Q3_K, MLP Q2_K, embedding IQ4_XS, head Q3_K), quantized by the helper (the engine's
   quantizer) and dequantized here. The engine's logits on each file must equal the NumPy
   reference forward on the NumPy-dequantized weights to within the 8-bit activations and
   F16 KV cache (mean KL <= 2e-3, as test_quantize.py), and agree with the F32 file's logits
   to within what the type's rounding explains: relative RMS of the logit difference at most
   MAX_LOGIT_REL[type]: 2.5 x the type's relative weight error on Gaussian rows (0.32 / 0.17 /
   0.089, test_lowk.c), as two layers and a head compound it to about 2 x.
Last line: "test_lowk: N passed, M failed, K skipped".
"""

import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "ref"))

import model_files as mf        # noqa: E402
import model_ref as ref         # noqa: E402
import presets                  # noqa: E402
import testlib                  # noqa: E402

GGML = {"q2_k": 10, "q3_k": 11, "iq4_xs": 23}
BLOCK_BYTES = {"q2_k": 84, "q3_k": 110, "iq4_xs": 136}
KVALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113],
                   np.float32)
# 2.5 x the weight error of each type (measured: 0.65, 0.36, 0.18, mix 0.42, about 2x)
MAX_LOGIT_REL = {"q2_k": 0.8, "q3_k": 0.43, "iq4_xs": 0.22, "mix": 0.55}
MAX_ENGINE_VS_REF_KL = 2e-3
N_TOKENS = 24

BUILD = os.environ.get("TLM_BUILD", os.path.join(HERE, "..", "build"))
HELPER = os.path.join(BUILD, "tests", "kernels", "test_lowk")


class T:
    passed = failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL " + what)
        return ok


def f16(raw):
    return np.frombuffer(raw.tobytes(), "<f2").astype(np.float32)


# ---- dequantization, from ggml-common.h's layouts ------------------------------------------

def deq_q2_k(b):
    """b: uint8 [n, 84] = scales[16], qs[64], d, dmin."""
    sc, qs = b[:, 0:16], b[:, 16:80]
    d, dmin = f16(b[:, 80:82]), f16(b[:, 82:84])
    out = np.empty((len(b), 256), np.float32)
    for n in range(2):                      # two halves of 128, each reading 32 bytes of qs
        q = qs[:, 32 * n:32 * n + 32]
        for j in range(4):                  # shift 2j: four groups of 32
            for half in range(2):           # 16 elements per scale byte
                s = 8 * n + 2 * j + half
                dl = d * (sc[:, s] & 15).astype(np.float32)
                ml = dmin * (sc[:, s] >> 4).astype(np.float32)
                lv = ((q[:, 16 * half:16 * half + 16] >> (2 * j)) & 3).astype(np.float32)
                base = 128 * n + 32 * j + 16 * half
                out[:, base:base + 16] = dl[:, None] * lv - ml[:, None]
    return out


def q3_k_scales(raw12):
    """The 16 six-bit scales from the 12 bytes, as ggml's kmask1/kmask2 shuffle of 3 words."""
    a = np.frombuffer(np.ascontiguousarray(raw12).tobytes(), "<u4").reshape(-1, 3)
    k1, k2 = np.uint32(0x03030303), np.uint32(0x0f0f0f0f)
    tmp = a[:, 2]
    aux = np.stack([(a[:, 0] & k2) | (((tmp >> 0) & k1) << 4),
                    (a[:, 1] & k2) | (((tmp >> 2) & k1) << 4),
                    ((a[:, 0] >> 4) & k2) | (((tmp >> 4) & k1) << 4),
                    ((a[:, 1] >> 4) & k2) | (((tmp >> 6) & k1) << 4)], 1).astype("<u4")
    return np.frombuffer(aux.tobytes(), np.int8).reshape(-1, 16).astype(np.int32)


def deq_q3_k(b):
    """b: uint8 [n, 110] = hmask[32], qs[64], scales[12], d."""
    hm, qs, d = b[:, 0:32], b[:, 32:96], f16(b[:, 108:110])
    sc = q3_k_scales(b[:, 96:108])
    out = np.empty((len(b), 256), np.float32)
    m = 1
    for n in range(2):
        q = qs[:, 32 * n:32 * n + 32]
        for j in range(4):
            for half in range(2):
                s = 8 * n + 2 * j + half
                dl = d * (sc[:, s] - 32).astype(np.float32)
                sl = slice(16 * half, 16 * half + 16)
                lv = ((q[:, sl] >> (2 * j)) & 3).astype(np.int32) - np.where(hm[:, sl] & m, 0, 4)
                base = 128 * n + 32 * j + 16 * half
                out[:, base:base + 16] = dl[:, None] * lv.astype(np.float32)
            m <<= 1
    return out


def deq_iq4_xs(b):
    """b: uint8 [n, 136] = d, scales_h (u16), scales_l[4], qs[128]."""
    d = f16(b[:, 0:2])
    sh = np.frombuffer(np.ascontiguousarray(b[:, 2:4]).tobytes(), "<u2").astype(np.int32)
    sl, qs = b[:, 4:8].astype(np.int32), b[:, 8:136]
    out = np.empty((len(b), 256), np.float32)
    for ib in range(8):
        ls = ((sl[:, ib // 2] >> (4 * (ib % 2))) & 15) | (((sh >> (2 * ib)) & 3) << 4)
        dl = d * (ls - 32).astype(np.float32)
        q = qs[:, 16 * ib:16 * ib + 16]
        out[:, 32 * ib:32 * ib + 16] = dl[:, None] * KVALUES[q & 15]
        out[:, 32 * ib + 16:32 * ib + 32] = dl[:, None] * KVALUES[q >> 4]
    return out


DEQ = {"q2_k": deq_q2_k, "q3_k": deq_q3_k, "iq4_xs": deq_iq4_xs}

EXTREME_F16 = [0x7bff, 0xfbff, 0x0001, 0x03ff, 0x8001, 0x0000, 0x8000, 0x3c00]


def put_f16(blocks, off, bits):
    blocks[:, off:off + 2] = np.frombuffer(struct.pack("<H", bits), np.uint8)


def pack_q3_scales(v):
    """16 six-bit values (0..63) into 12 bytes, as quantize_row_q3_K_ref stores them."""
    out = np.zeros(12, np.uint8)
    for j, l in enumerate(v):
        if j < 8:
            out[j] |= l & 15
        else:
            out[j - 8] |= (l & 15) << 4
        out[8 + j % 4] |= (l >> 4) << (2 * (j // 4))
    return out


def test_blocks(qtype, rng):
    """Random, extreme-scale, zero and every-value blocks of one type."""
    nb = BLOCK_BYTES[qtype]
    parts = [rng.integers(0, 256, (64, nb), dtype=np.uint8)]
    d_off = {"q2_k": 80, "q3_k": 108, "iq4_xs": 0}[qtype]
    for i, d in enumerate(EXTREME_F16):      # every extreme scale (and for Q2_K every pair)
        mins = EXTREME_F16 if qtype == "q2_k" else [None]
        blk = rng.integers(0, 256, (len(mins), nb), dtype=np.uint8)
        for k, m in enumerate(mins):
            put_f16(blk[k:k + 1], d_off, d)
            if m is not None:
                put_f16(blk[k:k + 1], 82, m)
        parts.append(blk)
    parts.append(np.zeros((2, nb), np.uint8))  # zero blocks
    every = rng.integers(0, 256, (64, nb), dtype=np.uint8)
    for k in range(64):
        put_f16(every[k:k + 1], d_off, 0x3c00 if k % 2 else 0xb800)   # 1 and -0.5
        if qtype == "q2_k":
            put_f16(every[k:k + 1], 82, 0x3800)
            every[k, 0:16] = (np.arange(16) + 16 * k) % 256           # every scale/min byte
            every[k, 16:80] = (np.arange(64) + 64 * k) % 256          # every 2-bit pattern
        elif qtype == "q3_k":
            every[k, 96:108] = pack_q3_scales((np.arange(16) + k) % 64)  # every 6-bit scale
            every[k, 32:96] = (np.arange(64) + 64 * k) % 256
            every[k, 0:32] = 0xff if k % 3 == 0 else (0 if k % 3 == 1 else every[k, 0:32])
        else:
            ls = (np.arange(8) + k) % 64                                # every 6-bit scale
            sl = np.zeros(4, np.uint8)
            shv = 0
            for ib in range(8):
                sl[ib // 2] |= (ls[ib] & 15) << (4 * (ib % 2))
                shv |= int(ls[ib] >> 4) << (2 * ib)
            every[k, 4:8] = sl
            every[k, 2:4] = np.frombuffer(struct.pack("<H", shv), np.uint8)
            every[k, 8:136] = (np.arange(128) + 128 * k) % 256         # every nibble pair
    parts.append(every)
    return np.concatenate(parts)


def run_helper(args):
    r = subprocess.run([HELPER] + args, capture_output=True, text=True)
    return r.returncode, r.stderr.strip()


def dequant_case(t, tmp, qtype, rng):
    blocks = test_blocks(qtype, rng)
    src, out = os.path.join(tmp, qtype + ".blk"), os.path.join(tmp, qtype + ".f32")
    blocks.tofile(src)
    rc, err = run_helper(["--dequant", qtype, src, out])
    if not t.check(rc == 0, "%s: helper --dequant: exit %d %s" % (qtype, rc, err)):
        return
    got = np.fromfile(out, "<f4").reshape(-1, 256)
    with np.errstate(invalid="ignore", over="ignore"):  # random f16 scales include Inf, NaN
        want = DEQ[qtype](blocks)
    bad = np.nonzero(got.view(np.uint32) != want.view(np.uint32))
    t.check(got.shape == want.shape and bad[0].size == 0,
            "%s: to_f32 = NumPy from GGUF's definition, bit for bit, %d blocks (%d values "
            "differ%s)" % (qtype, len(blocks), bad[0].size,
                           ", first block %d element %d: %r vs %r" % (
                               bad[0][0], bad[1][0], got[bad[0][0], bad[1][0]],
                               want[bad[0][0], bad[1][0]]) if bad[0].size else ""))


# ---- a model in these types ----------------------------------------------------------------

CFG = dict(presets.SMALL["tinyllama"], hidden_size=256, intermediate_size=512,
           num_attention_heads=4, num_key_value_heads=2, vocab_size=512, num_hidden_layers=2)


def type_for(mix, gname):
    if mix != "mix":
        return mix
    if "attn_" in gname:
        return "q3_k"
    if "ffn_" in gname:
        return "q2_k"
    return "iq4_xs" if gname.startswith("token_embd") else "q3_k"


def write_typed_gguf(path, cfg, weights, encode):
    """model_files.write_gguf with each tensor's (ggml type, bytes) from encode(name, array)."""
    arch = mf.GGUF_ARCH[cfg["model_type"]]
    tensors, n_blocks = mf.gguf_tensors(cfg, weights)
    kvs = [("general.architecture", mf.GV_STRING, arch),
           ("general.name", mf.GV_STRING, "lowk")]
    kvs += [(arch + "." + k, ty, v) for k, ty, v in mf._gguf_keys(cfg, mf.features(cfg), n_blocks)]
    kvs += [("general.file_type", mf.GV_U32, 0), ("general.quantization_version", mf.GV_U32, 2)]
    head = bytearray(mf.GGUF_MAGIC + struct.pack("<IQQ", 3, len(tensors), len(kvs)))
    for k, ty, v in kvs:
        head += mf._gguf_str(k) + struct.pack("<I", ty) + mf._gguf_value(ty, v)
    blobs, offset = [], 0
    for gname, a in tensors:
        gtype, b = encode(gname, a)
        ne = list(reversed(a.shape))
        head += mf._gguf_str(gname) + struct.pack("<I", len(ne))
        head += struct.pack("<%dQ" % len(ne), *ne) + struct.pack("<IQ", gtype, offset)
        b += b"\0" * (-len(b) % mf.GGUF_ALIGN)
        blobs.append(b)
        offset += len(b)
    head += b"\0" * (-len(head) % mf.GGUF_ALIGN)
    with open(path, "wb") as f:
        f.write(head)
        for b in blobs:
            f.write(b)


def engine_logits(model, tokens, out):
    r = subprocess.run([os.path.join(BUILD, "tlm-logits"), "-m", model, "--tokens",
                        ",".join(str(int(x)) for x in tokens), "-o", out, "-t", "1"],
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines()
        return None, "exit %d: %s" % (r.returncode, lines[-1] if lines else "")
    return np.fromfile(out, "<f4").reshape(len(tokens), -1), None


def kl(p_logits, q_logits):
    lp = p_logits.astype(np.float64)
    lq = q_logits.astype(np.float64)
    lp = lp - lp.max(1, keepdims=True)
    lp -= np.log(np.exp(lp).sum(1, keepdims=True))
    lq = lq - lq.max(1, keepdims=True)
    lq -= np.log(np.exp(lq).sum(1, keepdims=True))
    return float(np.maximum((np.exp(lp) * (lp - lq)).sum(1), 0).mean())


def model_case(t, tmp, qtype, weights, f32_logits, tokens):
    deq = {}

    def encode(gname, a):
        if a.ndim != 2:
            deq[gname] = a
            return mf.GGML_F32, a.astype("<f4").tobytes()
        ty = type_for(qtype, gname)
        src, out = os.path.join(tmp, "w.f32"), os.path.join(tmp, "w.blk")
        a.astype("<f4").tofile(src)
        rc, err = run_helper(["--quantize", ty, str(a.shape[1]), src, out])
        if rc != 0:
            raise RuntimeError("helper --quantize %s %s: %s" % (ty, gname, err))
        raw = np.fromfile(out, np.uint8)
        deq[gname] = DEQ[ty](raw.reshape(-1, BLOCK_BYTES[ty])).reshape(a.shape)
        return GGML[ty], raw.tobytes()

    path = os.path.join(tmp, "model.%s.gguf" % qtype)
    try:
        write_typed_gguf(path, CFG, weights, encode)
    except RuntimeError as e:
        t.check(False, "%s: %s" % (qtype, e))
        return
    got, err = engine_logits(path, tokens, os.path.join(tmp, "q.f32"))
    if not t.check(got is not None, "%s: the file loads and runs (%s)" % (qtype, err or "ok")):
        return
    want = ref.forward(ref.features(CFG), mf.gguf_to_hf(CFG, deq), tokens)
    k = kl(want, got)
    t.check(k <= MAX_ENGINE_VS_REF_KL, "%s: engine = NumPy forward on the NumPy-dequantized "
            "weights (mean KL %.2e <= %.0e)" % (qtype, k, MAX_ENGINE_VS_REF_KL))
    rel = float(np.sqrt(np.mean((got - f32_logits) ** 2) / np.mean(f32_logits ** 2)))
    agree = float(np.mean(got.argmax(1) == f32_logits.argmax(1)))
    print("%s: logits vs F32: relative RMS %.3f, top-1 agreement %.0f%%, KL %.3g"
          % (qtype, rel, 100 * agree, kl(f32_logits, got)))
    t.check(rel <= MAX_LOGIT_REL[qtype], "%s: logits vs the F32 file's, relative RMS %.3f <= %.2f"
            % (qtype, rel, MAX_LOGIT_REL[qtype]))


def main():
    t = T()
    if not os.access(HELPER, os.X_OK):
        testlib.missing("%s (build the tests)" % HELPER, 1)
        return testlib.finish("lowk", t.passed, t.failed)
    rng = np.random.default_rng(16)
    with tempfile.TemporaryDirectory() as tmp:
        for qtype in ("q2_k", "q3_k", "iq4_xs"):
            dequant_case(t, tmp, qtype, rng)
        weights = mf.random_weights(CFG, 1616)
        f32 = os.path.join(tmp, "model.f32.gguf")
        mf.write_gguf(f32, CFG, weights, "F32")
        tokens = rng.integers(0, CFG["vocab_size"], N_TOKENS).tolist()
        f32_logits, err = engine_logits(f32, tokens, os.path.join(tmp, "f.f32"))
        if t.check(f32_logits is not None, "F32 file: %s" % (err or "ok")):
            for qtype in ("q2_k", "q3_k", "iq4_xs", "mix"):
                model_case(t, tmp, qtype, weights, f32_logits, tokens)
    return testlib.finish("lowk", t.passed, t.failed)


if __name__ == "__main__":
    sys.exit(main())
