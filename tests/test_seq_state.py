#!/usr/bin/python3
"""test_seq_state.py - saving and loading one sequence, for every family.

Writes each small preset of tests/ref/presets.py (every seed family, Phi-3's sliding window of
16 among them: its cache keeps only the window plus two batches of cells per sequence) as an
F32 GGUF file with seeded random weights, and runs

    $TLM_BUILD/tests/runtime/test_seq_state MODEL.gguf

on each: a sequence saved, overwritten and loaded back gives the save point's logits bit for
bit, also in another sequence id and another context; the other sequences keep their bytes;
truncated, corrupted and foreign states are refused with the target emptied
(tests/runtime/test_seq_state.c says how). Last line:
"test_seq_state_families: N passed, M failed, K skipped".
"""

import os
import shutil
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


def main():
    build = os.environ.get("TLM_BUILD") or os.path.normpath(os.path.join(HERE, "..", "build"))
    exe = os.path.join(build, "tests", "runtime", "test_seq_state")
    if mf is None:
        testlib.missing("numpy for the model writers (%s)" % why)
        return testlib.finish("seq_state_families", 0, 0)
    if not os.access(exe, os.X_OK):
        print("FAIL: %s not built" % exe)
        return testlib.finish("seq_state_families", 0, 1)
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="tlm-seqstate-")
    try:
        for k, (name, cfg) in enumerate(presets.SMALL.items()):
            path = os.path.join(tmp, name + ".gguf")
            mf.write_gguf(path, cfg, mf.random_weights(cfg, 1700 + k), "F32",
                          name="tlm-test-" + name)
            p, f = testlib.run_on_model(exe, name, path)
            passed += p
            failed += f
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("seq_state_families", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
