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
import re
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


def run_one(exe, label, model):
    """test_seq_state on one model file: (passed, failed)."""
    try:
        r = subprocess.run([exe, model], capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        print("FAIL %s: timed out after %d s" % (label, TIMEOUT))
        return 0, 1
    m = re.search(r"test_seq_state: (\d+) passed, (\d+) failed", r.stdout)
    for line in r.stdout.splitlines():
        if line.startswith("FAIL"):
            print("%s: %s" % (label, line))
    if not m:
        print("FAIL %s: no result line (exit %d): %s" % (label, r.returncode,
                                                         (r.stderr or r.stdout)[-300:]))
        return 0, 1
    p, f = int(m.group(1)), int(m.group(2))
    if r.returncode != 0 and f == 0:
        f = 1
    print("%-19s %d passed, %d failed" % (label, p, f))
    return p, f


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
            p, f = run_one(exe, name, path)
            passed += p
            failed += f
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("seq_state_families", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
