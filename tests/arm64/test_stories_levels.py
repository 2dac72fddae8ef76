#!/usr/bin/python3
"""test_stories_levels.py - the cross-built tlm-generate under qemu-user at every AArch64 level:
the stories260K greedy text (llama2.c and GGUF files) must equal the independent reference in
../shared/models/stories260K.greedy200.txt at ref, neon, dotprod and i8mm, and the closing line
must name the level in use.

Run by tests/arm64/run.sh with TLM_BUILD (the AArch64 build), TLM_SHARED and TLM_QEMU (the
emulator with its -L sysroot). Each level is a qemu CPU model that has it and nothing above
(cortex-a53: AdvSIMD only; cortex-a76: + dot product; max: + i8mm), plus TLM_ISA=ref. One
thread: Debian 12's qemu-aarch64 hangs when libgomp starts a second one."""
import os
import shlex
import subprocess
import sys

BUILD = os.environ.get("TLM_BUILD", "build-arm64")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "..",
                                                   "shared"))
QEMU = shlex.split(os.environ.get("TLM_QEMU", "qemu-aarch64 -L /usr/aarch64-linux-gnu"))
MODELS = os.path.join(SHARED, "models")
LEVELS = [("cortex-a53", None, "neon"), ("cortex-a76", None, "dotprod"), ("max", None, "i8mm"),
          ("max", "ref", "ref")]

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    passed, failed = passed + ok, failed + (not ok)


def reference_text():
    with open(os.path.join(MODELS, "stories260K.greedy200.txt"), encoding="utf-8") as f:
        return f.read().partition("text:\n")[2].rstrip("\n")


def main():
    if not os.path.exists(os.path.join(MODELS, "stories260K.bin")):
        print("FAIL no %s" % MODELS)
        print("test_stories_levels: 0 passed, 1 failed")
        return 1
    want = reference_text()
    models = [("bin", ["-m", os.path.join(MODELS, "stories260K.bin"), "-z",
                       os.path.join(MODELS, "tok512.bin")]),
              ("gguf", ["-m", os.path.join(MODELS, "stories260K.gguf")])]
    for cpu, force, level in LEVELS:
        env = dict(os.environ, OMP_NUM_THREADS="1")
        env.pop("TLM_ISA", None)
        if force:
            env["TLM_ISA"] = force
        for label, args in models:
            cmd = QEMU + ["-cpu", cpu, os.path.join(BUILD, "tlm-generate")] + args + \
                ["--temp", "0", "-n", "200", "-t", "1"]
            try:
                p = subprocess.run(cmd, capture_output=True, env=env, timeout=300)
            except subprocess.TimeoutExpired:
                check("%s %s greedy text" % (level, label), False, "timed out")
                continue
            text = p.stdout.decode("utf-8", "replace").rstrip("\n")
            err = p.stderr.decode("utf-8", "replace")
            name = "%s (-cpu %s%s) %s" % (level, cpu, ", TLM_ISA=" + force if force else "", label)
            at = next((i for i, (a, b) in enumerate(zip(text, want)) if a != b),
                      min(len(text), len(want)))
            check(name + " greedy text", p.returncode == 0 and text == want,
                  "" if text == want else "exit %d, first difference at char %d %s"
                  % (p.returncode, at, err.strip()[-200:]))
            last = err.strip().splitlines()[-1] if err.strip() else ""
            check(name + " closing line names the level", last.endswith("kernels " + level),
                  last)
    print("test_stories_levels: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
