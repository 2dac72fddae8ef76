#!/usr/bin/python3
"""test_quant_b32.py - the 32-element block types Q4_1, Q5_0, Q5_1 and IQ4_NL end to end.

Run by tests/run.sh with TLM_BUILD (test_quant_b32, tlm-quantize, tlm-logits).

1. Dequantization bit for bit: blocks built here (every 4-bit code in every position, every
   fifth-bit pattern, scales and mins at f16 extremes: largest finite, smallest and largest
   subnormal, +-0, and ordinary values; all-zero blocks) go through the library's reference
   to_f32 (test_quant_b32 --to-f32, the slot every ISA uses) and through the NumPy reference
   tests/ref/quant_b32.py, written from ggml's block definitions: the same float32 bits.
2. Models: a random tinyllama-shaped model (rows of 256 and 512) written as F32 safetensors is
   quantized by tlm-quantize to each type and to the q4_k_m / q5_k_m mixes. Each tensor must
   have the type llama-quantize's rules give (worked out by hand below for this 2-layer,
   2-KV-group model), the engine's logits on the file must equal the NumPy reference forward
   on the file's weights dequantized here (mean KL <= 2e-3: only the engine's 8-bit
   activations differ), and against the F32 model's logits the cost must stay within what the
   type's rounding explains (bounds below).
3. Refusals: the F32 file with one matrix's header rewritten to a type libtinylm does not read
   (IQ2_XXS, an id GGUF never defined) or to a block type whose blocks do not divide its rows
   (Q4_1, IQ4_NL with 48 columns) fails to load with exit 1 and a message naming the tensor
   and the type.
4. --imatrix (llama.cpp's .dat, written here from its layout): IQ4_NL with it has less
   importance-weighted error than without on every tensor with an entry, leaves the others as
   they were and still equals the reference forward; truncated files, a negative count, NaN
   values and an entry whose length is not the tensor's row are refused naming the problem.
Last line: "test_quant_b32: N passed, M failed, K skipped".
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
sys.path.insert(0, HERE)

import model_files as mf        # noqa: E402
import model_ref as ref         # noqa: E402
import quant_b32 as qb          # noqa: E402
import testlib                  # noqa: E402
import test_quantize as tq      # noqa: E402

BUILD = tq.BUILD

# f16 bit patterns for scales: extremes and ordinary values
F16_SCALES = [0x7BFF, 0xFBFF, 0x0001, 0x8001, 0x03FF, 0x0400, 0x0000, 0x8000, 0x3C00, 0x2E66,
              0xB400, 0x1400]

# What each type may cost against the F32 model on tinyllama_wide (mean KL, min top-1 over 64
# positions). Measured (engine): q5_1 3.2e-3 / 91%, q5_0 4.0e-3 / 86%, q4_1 1.3e-2 / 80%,
# iq4_nl 1.3e-2 / 80%, q5_k_m 2.7e-3 / 95%, q4_k_m 1.0e-2 / 84%; the NumPy forward on the
# dequantized weights gives the same within 1e-3, so the cost is the weights' rounding (a
# block of 32 at 5 bits has half the step of one at 4 bits: KL about 4x smaller), not the
# kernels. Bounds about 1.5x the measured KL.
COST = {"q5_1": (5e-3, 0.8), "q5_0": (6e-3, 0.8), "q4_1": (2e-2, 0.7),
        "iq4_nl": (2e-2, 0.7), "q5_k_m": (4e-3, 0.85), "q4_k_m": (1.5e-2, 0.7)}


class T:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what):
        print("%s %s" % ("ok  " if ok else "FAIL", what))
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


def blocks(gtype):
    """Blocks covering every code in every position, every fifth bit, extreme scales."""
    n = qb.BLOCK_BYTES[gtype]
    rng = np.random.default_rng(gtype)
    out = []
    has_min = gtype in (qb.Q4_1, qb.Q5_1)
    qs_at = n - 16
    for k, d in enumerate(F16_SCALES):
        for code in range(16):
            b = bytearray(n)
            b[0:2] = d.to_bytes(2, "little")
            if has_min:
                b[2:4] = F16_SCALES[(k + code) % len(F16_SCALES)].to_bytes(2, "little")
            # element j low nibble = (code + j) % 16, high = (code + 7 j) % 16
            for j in range(16):
                b[qs_at + j] = ((code + j) % 16) | (((code + 7 * j) % 16) << 4)
            if gtype in (qb.Q5_0, qb.Q5_1):
                qh = [0x00000000, 0xFFFFFFFF, 0xAAAAAAAA, 0x0F0F0F0F][code % 4] ^ (code << 20)
                b[qs_at - 4:qs_at] = (qh & 0xFFFFFFFF).to_bytes(4, "little")
            out.append(bytes(b))
    out.append(bytes(n))                                   # a zero block
    for _ in range(64):                                    # random bytes, finite scales
        b = bytearray(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        b[0:2] = F16_SCALES[rng.integers(len(F16_SCALES))].to_bytes(2, "little")
        if has_min:
            b[2:4] = F16_SCALES[rng.integers(len(F16_SCALES))].to_bytes(2, "little")
        out.append(bytes(b))
    return b"".join(out)


def test_dequant(t):
    exe = os.path.join(BUILD, "tests", "kernels", "test_quant_b32")
    if not os.access(exe, os.X_OK):
        testlib.missing("%s (build the tests)" % exe, 4)
        return
    for gtype, name in ((qb.Q4_1, "Q4_1"), (qb.Q5_0, "Q5_0"), (qb.Q5_1, "Q5_1"),
                        (qb.IQ4_NL, "IQ4_NL")):
        raw = blocks(gtype)
        r = subprocess.run([exe, "--to-f32", str(gtype)], input=raw, capture_output=True,
                           timeout=60)
        got = np.frombuffer(r.stdout, "<f4")
        want = qb.dequantize(gtype, raw)
        same = r.returncode == 0 and got.size == want.size and \
            np.array_equal(got.view("<u4"), want.view("<u4"))
        bad = "" if same or got.size != want.size else ": %d of %d values differ" % (
            int(np.sum(got.view("<u4") != want.view("<u4"))), want.size)
        t.check(same, "%s: to_f32 of %d blocks equals the NumPy reference bit for bit%s" % (
            name, want.size // 32, bad))


# llama-quantize's types for tinyllama_wide (2 layers, 4 heads / 2 KV heads: n_gqa 2, untied
# head): q4_k_m gives attn_v and ffn_down Q6_K where use_more_bits(i, 2) holds (layer 1: i >=
# 7 * 2 / 8), Q4_K at layer 0; q5_k_m likewise over Q5_K; the head Q6_K.
def expected(qtype, name):
    base = {"q4_1": qb.Q4_1, "q5_0": qb.Q5_0, "q5_1": qb.Q5_1, "iq4_nl": qb.IQ4_NL,
            "q4_k_m": tq.Q4_K, "q5_k_m": tq.Q5_K}[qtype]
    if name == "output.weight":
        return tq.Q6_K
    if qtype in ("q4_k_m", "q5_k_m") and name.startswith("blk.1.") and (
            "attn_v" in name or "ffn_down" in name):
        return tq.Q6_K
    return base


def dequantized(raw):
    out = {}
    for name, (gtype, ne, b) in raw.items():
        if gtype in qb.BLOCK_BYTES:
            a = qb.dequantize(gtype, b)
        else:
            a = tq.DEQUANT[gtype](np.frombuffer(b, np.uint8))
        out[name] = a.reshape(tuple(reversed(ne)))
    return out


def test_models(t, tmp):
    for g, bb in qb.BLOCK_BYTES.items():
        tq.BLOCK[g] = (32, bb)                 # so tq.read_gguf_raw sizes these tensors
    name = "tinyllama_wide"
    cfg = tq.WIDE[name]
    weights = tq.wide_weights(cfg, 3000)
    hf = os.path.join(tmp, name + "-hf")
    mf.write_hf_dir(hf, cfg, weights, "F32")
    tokens = tq.check_tokens(cfg["vocab_size"])
    lp = ref.forward(ref.features(cfg), weights, tokens)
    f32 = os.path.join(tmp, "f32.gguf")
    rc, _, err = tq.quantize(hf, f32, "f32")
    base, e = tq.logits(f32, tokens, os.path.join(tmp, "p.f32"), cfg["vocab_size"]) \
        if rc == 0 else (None, err)
    if not t.check(base is not None, "%s: F32 file and its logits (%s)" % (name, e or "ok")):
        return
    for qtype in COST:
        out = os.path.join(tmp, "%s.%s.gguf" % (name, qtype))
        rc, _, err = tq.quantize(hf, out, qtype)
        if not t.check(rc == 0, "%s -> %s: %s" % (name, qtype, "written" if rc == 0
                                                  else tq.last_line(err))):
            continue
        _, raw = tq.read_gguf_raw(out)
        wrong = ["%s is %s" % (n, gt) for n, (gt, ne, _) in raw.items()
                 if len(ne) == 2 and gt != expected(qtype, n)]
        t.check(not wrong, "%s -> %s: every matrix in llama-quantize's type%s" % (
            name, qtype, ": " + ", ".join(wrong[:4]) if wrong else ""))
        lq_ref = ref.forward(ref.features(cfg), mf.gguf_to_hf(cfg, dequantized(raw)), tokens)
        got, e = tq.logits(out, tokens, os.path.join(tmp, "q.f32"), cfg["vocab_size"])
        if not t.check(got is not None, "%s -> %s: tlm-logits (%s)" % (name, qtype, e or "ok")):
            continue
        d_kl, _ = tq.kl_top1(lq_ref, got)
        t.check(d_kl <= tq.MAX_ENGINE_VS_REF_KL, "%s -> %s: engine = NumPy reference on the "
                "dequantized file (KL %.2g <= %.0e)" % (name, qtype, d_kl, tq.MAX_ENGINE_VS_REF_KL))
        kl, top1 = tq.kl_top1(base, got)
        max_kl, min_top1 = COST[qtype]
        t.check(kl <= max_kl and top1 >= min_top1, "%s -> %s: against F32 KL %.3g <= %.3g, "
                "top-1 %.0f%% >= %.0f%%" % (name, qtype, kl, max_kl, 100 * top1, 100 * min_top1))
        ref_kl, _ = tq.kl_top1(lp, lq_ref)
        print("     %s: reference cost KL %.3g" % (qtype, ref_kl))


def patch_tensor(src, dst, name, gtype=None, ne0=None):
    """A copy of GGUF src with tensor `name`'s type and/or ne[0] rewritten in its header."""
    data = bytearray(open(src, "rb").read())
    key = len(name).to_bytes(8, "little") + name.encode()
    at = data.index(key) + len(key)
    n_dims = int.from_bytes(data[at:at + 4], "little")
    if ne0 is not None:
        data[at + 4:at + 12] = ne0.to_bytes(8, "little")
    if gtype is not None:
        t_at = at + 4 + 8 * n_dims
        data[t_at:t_at + 4] = gtype.to_bytes(4, "little")
    open(dst, "wb").write(bytes(data))


def test_refusals(t, tmp):
    """Bad types and shapes: a clear error naming the tensor and the type, exit 1, no crash."""
    f32 = os.path.join(tmp, "f32.gguf")
    if not os.path.exists(f32):
        t.check(False, "refusals: no F32 file to patch")
        return
    cases = [("IQ2_XXS", dict(gtype=16)), ("Q4_1", dict(gtype=qb.Q4_1, ne0=48)),
             ("IQ4_NL", dict(gtype=qb.IQ4_NL, ne0=48)), ("unknown", dict(gtype=99))]
    name = "blk.0.ffn_down.weight"
    for what, kw in cases:
        bad = os.path.join(tmp, "bad.gguf")
        patch_tensor(f32, bad, name, **kw)
        rc, out, err = tq.run(["tlm-logits", "-m", bad, "--tokens", "1,2", "-o",
                               os.path.join(tmp, "bad.f32")])
        msg = tq.last_line(err)
        t.check(testlib.refused(rc, testlib.EXIT_FAILURE) and name in msg and what in msg,
                "refused with the tensor and the type named (%s): exit %d, %s" % (what, rc, msg))


def write_imatrix(path, entries, ncall=10):
    """llama-imatrix's .dat: int32 count; per entry int32 name length, name, int32 ncall,
    int32 nval, nval float32 (sums over ncall calls); then int32 last call and the dataset."""
    with open(path, "wb") as f:
        f.write(struct.pack("<i", len(entries)))
        for name, v in entries:
            f.write(struct.pack("<i", len(name)) + name.encode())
            f.write(struct.pack("<ii", ncall, len(v)) + np.asarray(v, "<f4").tobytes())
        f.write(struct.pack("<ii", ncall, 4) + b"test")


def test_imatrix(t, tmp):
    """--imatrix: IQ4_NL weighs each column's error by it (less weighted error than without, on
    every tensor with an entry; the others unchanged); the file still matches the reference
    forward; malformed files and entries of the wrong length are refused naming the entry."""
    f32 = os.path.join(tmp, "f32.gguf")
    if not os.path.exists(f32):
        t.check(False, "imatrix: no F32 file")
        return
    _, raw = tq.read_gguf_raw(f32)
    src = {n: np.frombuffer(b, "<f4").reshape(tuple(reversed(ne)))
           for n, (g, ne, b) in raw.items() if len(ne) == 2}
    rng = np.random.default_rng(11)
    names = [n for n in src if n not in ("token_embd.weight", "output.weight")]
    imat = {n: rng.gamma(0.5, 2.0, src[n].shape[1]).astype(np.float32) for n in names}
    path = os.path.join(tmp, "im.dat")
    write_imatrix(path, [(n, imat[n] * 10) for n in names])
    plain, weighted = os.path.join(tmp, "plain.gguf"), os.path.join(tmp, "weighted.gguf")
    rc0, _, e0 = tq.quantize(f32, plain, "iq4_nl")
    rc1, _, e1 = tq.run(["tlm-quantize", "-m", f32, "-o", weighted, "--type", "iq4_nl",
                         "--imatrix", path, "--no-check", "-t", "2"])
    if not t.check(rc0 == 0 and rc1 == 0, "imatrix: iq4_nl written with and without (%s)" % (
            tq.last_line(e1) if rc1 else tq.last_line(e0) if rc0 else "ok")):
        return
    _, a = tq.read_gguf_raw(plain)
    _, b = tq.read_gguf_raw(weighted)
    worse, same = [], []
    for n in src:
        if n not in imat:
            if a[n][2] != b[n][2]:
                same.append(n)
            continue
        x = src[n].astype(np.float64)
        ea = ((qb.dequantize(a[n][0], a[n][2]).reshape(x.shape) - x) ** 2 * imat[n]).sum()
        eb = ((qb.dequantize(b[n][0], b[n][2]).reshape(x.shape) - x) ** 2 * imat[n]).sum()
        if not eb < ea:
            worse.append("%s %.4g >= %.4g" % (n, eb, ea))
    t.check(not worse, "imatrix: less importance-weighted error on all %d tensors with an "
            "entry%s" % (len(imat), ": " + "; ".join(worse[:3]) if worse else ""))
    t.check(not same, "imatrix: tensors without an entry unchanged%s" % (
        ": " + ", ".join(same) if same else ""))
    cfg = tq.WIDE["tinyllama_wide"]
    tokens = tq.check_tokens(cfg["vocab_size"])
    lq_ref = ref.forward(ref.features(cfg), mf.gguf_to_hf(cfg, dequantized(b)), tokens)
    got, e = tq.logits(weighted, tokens, os.path.join(tmp, "w.f32"), cfg["vocab_size"])
    t.check(got is not None and tq.kl_top1(lq_ref, got)[0] <= tq.MAX_ENGINE_VS_REF_KL,
            "imatrix: engine = NumPy reference on the file (%s)" % (e or "ok"))
    # refusals
    bad = os.path.join(tmp, "bad.dat")
    first = names[0]
    cases = [("truncated", lambda: open(bad, "wb").write(open(path, "rb").read()[:300]), "offset"),
             ("wrong length", lambda: write_imatrix(bad, [(first, imat[first][:-32])]), first),
             ("negative count", lambda: open(bad, "wb").write(struct.pack("<i", -3)), "entry count"),
             ("NaN", lambda: write_imatrix(bad, [(first, np.full(imat[first].size, np.nan))]),
              first)]
    for what, make, needle in cases:
        make()
        rc, _, err = tq.run(["tlm-quantize", "-m", f32, "-o", os.path.join(tmp, "x.gguf"),
                             "--type", "iq4_nl", "--imatrix", bad, "--no-check"])
        msg = tq.last_line(err)
        t.check(testlib.refused(rc, testlib.EXIT_FAILURE) and needle in msg and "bad.dat" in msg,
                "imatrix %s: refused naming it (exit %d: %s)" % (what, rc, msg))


def main():
    t = T()
    test_dequant(t)
    with tempfile.TemporaryDirectory() as tmp:
        test_models(t, tmp)
        test_refusals(t, tmp)
        test_imatrix(t, tmp)
    return testlib.finish("quant_b32", t.passed, t.failed)


if __name__ == "__main__":
    sys.exit(main())
