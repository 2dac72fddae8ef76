"""Real weights: stories260K in llama2.c and GGUF form against the reference greedy output in
../shared/models/stories260K.greedy200.txt (made by an independent NumPy implementation whose
text equals llama2.c's own test expectation).

Checks: greedy text and ids for both formats, position-0 logits to 1e-5, identical ids for 1
and 2 threads, and every ISA the CPU has (TLM_ISA) giving the same greedy ids."""
import os
import struct
import subprocess
import sys
import tempfile

import testlib

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MODELS = os.path.join(SHARED, "models")
BIN = os.path.join(MODELS, "stories260K.bin")
GGUF = os.path.join(MODELS, "stories260K.gguf")
TOK = os.path.join(MODELS, "tok512.bin")

passed = failed = skipped = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def read_reference():
    ids, logits, text = None, None, None
    with open(os.path.join(MODELS, "stories260K.greedy200.txt"), encoding="utf-8") as f:
        content = f.read()
    head, _, text = content.partition("text:\n")
    for line in head.splitlines():
        if line.startswith("ids:"):
            ids = [int(v) for v in line[4:].split()]
        elif line.startswith("logits_pos0:"):
            logits = [float(v) for v in line[len("logits_pos0:"):].split()]
    return ids, logits, text


def run(args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([os.path.join(BUILD, args[0])] + args[1:], capture_output=True, env=full_env)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def greedy_ids(model, extra=(), env=None):
    rc, out, err = run(["tlm-generate", "-m", model, "--temp", "0", "-n", "200", "--show-ids"]
                       + list(extra), env)
    if rc != 0:
        return None, err
    return [int(v) for v in out.split()], err


def isa_levels():
    """The ISAs this CPU runs, from /proc/cpuinfo flags (independent of the library)."""
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    levels = [("ref", True), ("avx2", {"avx2", "fma", "f16c"} <= flags),
              ("avx512", {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags)]
    return levels


N_CASES = 11  # the checks main() makes with the models present (ISAs the CPU lacks: skips)


def main():
    global skipped
    if not os.path.exists(BIN):
        testlib.missing(BIN, N_CASES)
        return testlib.finish("stories", passed, failed)
    ref_ids, ref_logits, ref_text = read_reference()

    # Text: the whole greedy continuation from BOS, exactly.
    rc, out, err = run(["tlm-generate", "-m", BIN, "-z", TOK, "--temp", "0", "-n", "200"])
    text = out.decode("utf-8", "replace")
    same = rc == 0 and text.rstrip("\n") == ref_text.rstrip("\n")
    first_diff = next((i for i, (a, b) in enumerate(zip(text, ref_text)) if a != b),
                      min(len(text), len(ref_text)))
    check("bin greedy text", same, "" if same else err or "first difference at char %d" % first_diff)
    rc, out, err = run(["tlm-generate", "-m", GGUF, "--temp", "0", "-n", "200"])
    text = out.decode("utf-8", "replace")
    check("gguf greedy text (embedded vocabulary)", rc == 0 and text.rstrip("\n") == ref_text.rstrip("\n"),
          err if rc else "")

    # Ids: both formats, 1 and 2 threads.
    for model, label in ((BIN, "bin"), (GGUF, "gguf")):
        for threads in ("1", "2"):
            ids, err = greedy_ids(model, ["-t", threads])
            check("%s greedy ids, %s thread(s)" % (label, threads), ids == ref_ids,
                  err if ids is None else "")

    # Every SIMD level the CPU has; the others are skipped, not passed.
    for isa, present in isa_levels():
        if not present:
            print("skip %s: CPU lacks it" % isa)
            skipped += 1
            continue
        ids, err = greedy_ids(BIN, ["-t", "2"], {"TLM_ISA": isa})
        check("greedy ids with TLM_ISA=%s" % isa, ids == ref_ids, err if ids is None else "")

    # Position-0 logits to 1e-5, both formats.
    tmp = tempfile.mkdtemp()
    for model, label in ((BIN, "bin"), (GGUF, "gguf")):
        path = os.path.join(tmp, label + ".f32")
        rc, _, err = run(["tlm-logits", "-m", model, "--tokens", "1", "-o", path])
        if rc != 0:
            check("%s logits at position 0" % label, False, err)
            continue
        with open(path, "rb") as f:
            data = f.read()
        got = struct.unpack("<%df" % (len(data) // 4), data)
        diff = max(abs(a - b) for a, b in zip(got, ref_logits)) if len(got) == len(ref_logits) else float("inf")
        check("%s logits at position 0 (max abs diff %.2e <= 1e-5)" % (label, diff), diff <= 1e-5)
        os.remove(path)
    os.rmdir(tmp)

    return testlib.finish("stories", passed, failed, skipped)


if __name__ == "__main__":
    sys.exit(main())
