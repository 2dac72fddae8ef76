#!/usr/bin/python3
"""test_batch.py - several sequences in one forward pass, for every family.

Writes each small preset of tests/ref/presets.py (every seed family: GQA/MQA/MHA, partial
RoPE, QK-norm, layer sharing, parallel residual, LayerNorm, biases, Phi-3's sliding window of
16, ...) as an F32 GGUF file with seeded random weights, and runs

    $TLM_BUILD/tests/runtime/test_batch MODEL.gguf

on each: every request's logits in a batch equal its logits alone within 1e-4 and its greedy
tokens are the same (mixed prompt lengths, requests starting and ending at different steps,
interleaved in the batch), a forked prefix continues as the prefix evaluated again, and every
refused batch leaves every sequence unchanged (tests/runtime/test_batch.c says how); two
families again quantized to Q4_0, Q8_0 and Q4_1 by tlm-quantize (the small-batch kernels). The
alone runs are the engine's single-sequence path, which tests/test_architectures.py holds to
the NumPy reference. Last line: "test_batch_families: N passed, M failed, K skipped".
"""

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "ref"))

import testlib                  # noqa: E402

try:
    import model_files as mf    # noqa: E402  (needs numpy)
    import presets              # noqa: E402
except ImportError as e:        # pragma: no cover
    mf = None
    why = str(e)

TIMEOUT = 300


# Families also run with their matrices in Q4_0, Q8_0 and Q4_1 (tlm-quantize; rows that are
# not whole blocks stay F16): a batch's tokens then take the small-batch quantized kernels
# and each request alone the one-token kernels (phi3: with a sliding window). Q4_1 stands for
# the blocks of 32 of qmatmul_b32_body.h; the K types' blocks of 256 are wider than these
# models' rows (tests/kernels/test_lowk.c holds their small batches to decode and prefill).
QUANTIZED = ("tinyllama", "phi3")
QTYPES = ("q4_0", "q8_0", "q4_1")


def main():
    build = os.environ.get("TLM_BUILD") or os.path.normpath(os.path.join(HERE, "..", "build"))
    exe = os.path.join(build, "tests", "runtime", "test_batch")
    quantize = os.path.join(build, "tlm-quantize")
    passed = failed = 0
    if mf is None:
        testlib.missing("numpy for the model writers (%s)" % why)
        return testlib.finish("batch_families", 0, 0)
    for need in (exe, quantize):
        if not os.access(need, os.X_OK):
            print("FAIL: %s not built" % need)
            return testlib.finish("batch_families", 0, 1)
    tmp = tempfile.mkdtemp(prefix="tlm-batch-")
    try:
        for k, (name, cfg) in enumerate(presets.SMALL.items()):
            path = os.path.join(tmp, name + ".gguf")
            mf.write_gguf(path, cfg, mf.random_weights(cfg, 1500 + k), "F32",
                          name="tlm-test-" + name)
            runs = [(name, path)]
            if name in QUANTIZED:
                for t in QTYPES:
                    q = os.path.join(tmp, "%s.%s.gguf" % (name, t))
                    r = subprocess.run([quantize, "-m", path, "-o", q, "--type", t, "--no-check"],
                                       capture_output=True, text=True, timeout=TIMEOUT)
                    if r.returncode != 0:
                        print("FAIL %s %s: tlm-quantize: %s" % (name, t, r.stderr[-300:]))
                        failed += 1
                        continue
                    runs.append(("%s %s" % (name, t), q))
            for label, model in runs:
                p, f = testlib.run_on_model(exe, label, model)
                passed += p
                failed += f
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("batch_families", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
