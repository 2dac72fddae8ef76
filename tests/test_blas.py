#!/usr/bin/python3
"""test_blas.py - the OpenBLAS prefill path (tlm-logits --blas) against the NumPy reference.

Small presets (TinyLlama's GQA, Phi-2's biases and plain MLP, Qwen2's biases) as F32 GGUF and
F16 GGUF (the reference then runs on the same rounded weights), and Gemma as BF16 safetensors
(bf16-rounded activations, judged as test_architectures.py judges BF16), 64 tokens in one
batch, so every projection takes the OpenBLAS path (batches of 32+ tokens). Logits must match the
reference to 1e-4 like the engine's own GEMM, and must not be bit-identical to the engine's
GEMM (proof that the other path ran). Token by token (-b 1) the engine's kernels run and the
two agree bit for bit. Without libopenblas the cases are skipped, saying so.
Last line: "test_blas: N passed, M failed, K skipped".
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(HERE, "ref"))

import model_files as mf        # noqa: E402
import model_ref as ref         # noqa: E402
import presets                  # noqa: E402
import selfcheck                # noqa: E402

TOL = 1e-4
N_TOKENS = 64


def logits(build, model, tokens, out, *flags):
    """(logits, None) or (None, last line of the error)."""
    cmd = [os.path.join(build, "tlm-logits"), "-m", model, "--tokens",
           ",".join(map(str, tokens)), "-o", out, "-t", "2"] + [str(f) for f in flags]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        lines = r.stderr.strip().splitlines()
        return None, lines[-1] if lines else "exit %d" % r.returncode
    return np.fromfile(out, dtype="<f4").reshape(len(tokens), -1), None


def bf16_case(t, build, tmp):
    """Gemma as BF16 safetensors: the OpenBLAS path multiplies bf16-rounded activations too
    (kernels/kernels.h), checked as test_architectures.py checks BF16 models (the median
    position within TOL, every position within its TOL_BF16_FLIP of 0.1: bf16 rounding
    boundary flips). Returns the cases skipped."""
    cfg = presets.SMALL["gemma"]
    w = mf.random_weights(cfg, 790)
    toks = np.random.default_rng(79).integers(0, cfg["vocab_size"], N_TOKENS).tolist()
    path = os.path.join(tmp, "gemma-bf16")
    mf.write_hf_dir(path, cfg, w, "BF16")
    dtypes = mf.read_safetensors(os.path.join(path, "model.safetensors"))[1]
    want = ref.forward(ref.features(cfg), mf.round_like_hf(w, "BF16"), toks,
                       bf16=frozenset(k for k, d in dtypes.items() if d == "BF16"))
    out = os.path.join(tmp, "o.f32")
    blas, err = logits(build, path, toks, out, "--blas", "-b", N_TOKENS)
    if blas is None and "OpenBLAS" in (err or ""):
        print("skip gemma BF16: %s" % err)
        return 2
    own, err2 = logits(build, path, toks, out, "-b", N_TOKENS)
    label = "gemma BF16, one batch of %d" % N_TOKENS
    if blas is None or own is None:
        t.check(False, "%s: %s" % (label, err or err2))
        return 0
    diff = np.abs(blas.astype(np.float64) - want)
    median, worst = float(np.median(np.max(diff, axis=1))), float(np.max(diff))
    t.check(median <= TOL and worst <= 0.1, "%s: OpenBLAS path vs reference: median position "
            "max_abs %.2e, worst %.2e" % (label, median, worst))
    t.check(not np.array_equal(blas, own), "%s: the OpenBLAS path ran" % label)
    return 0


def main():
    start = time.time()
    build = os.environ.get("TLM_BUILD") or os.path.normpath(os.path.join(HERE, "..", "build"))
    t = selfcheck.Tally()
    skipped = 0
    tmp = tempfile.mkdtemp(prefix="tlm-blas-")
    try:
        for k, name in enumerate(("tinyllama", "phi2", "qwen2")):
            cfg = presets.SMALL[name]
            w = mf.random_weights(cfg, 700 + k)
            feat = ref.features(cfg)
            toks = np.random.default_rng(70 + k).integers(0, cfg["vocab_size"], N_TOKENS).tolist()
            for dtype in ("F32", "F16"):
                path = os.path.join(tmp, "%s-%s.gguf" % (name, dtype))
                mf.write_gguf(path, cfg, w, dtype, name="tlm-test-blas-" + name)
                stored = w if dtype == "F32" else mf.round_like_gguf(w, dtype)
                want = ref.forward(feat, stored, toks)
                out = os.path.join(tmp, "o.f32")
                blas, err = logits(build, path, toks, out, "--blas", "-b", N_TOKENS)
                if blas is None and "OpenBLAS" in (err or ""):
                    skipped += 3
                    print("skip %s %s: %s" % (name, dtype, err))
                    continue
                own, err2 = logits(build, path, toks, out, "-b", N_TOKENS)
                label = "%s %s, one batch of %d" % (name, dtype, N_TOKENS)
                if blas is None or own is None:
                    t.check(False, "%s: %s" % (label, err or err2))
                    continue
                worst = float(np.max(np.abs(blas.astype(np.float64) - want)))
                t.check(worst <= TOL, "%s: OpenBLAS path vs reference max_abs %.2e" % (label, worst))
                t.check(not np.array_equal(blas, own), "%s: the OpenBLAS path ran (its logits "
                        "differ from the engine GEMM's in the last bits: max %.1e)"
                        % (label, float(np.max(np.abs(blas - own)))))
                one, err = logits(build, path, toks, out, "--blas", "-b", 1)
                t.check(one is not None and np.array_equal(one, logits(build, path, toks, out,
                                                                          "-b", 1)[0]),
                        "%s, token by token: --blas leaves decode to the engine (same bits)" % label)
        skipped += bf16_case(t, build, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("(%.1f s)" % (time.time() - start))
    print("test_blas: %d passed, %d failed, %d skipped" % (t.passed, t.failed, skipped))
    return 0 if t.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
