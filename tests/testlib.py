"""testlib.py - what the Python tests share so that their counts mean what they say.

- Every tool a test runs through subprocess.run is watched once this module is imported: a
  run that ends in a sanitizer report (exit SANITIZER_EXIT, or a report in its captured
  stderr) or in a signal counts one failure, even where the test expected a refusal and its
  own check passed. tests/run.sh exports the sanitizer exit code.
- Tools refuse with documented exit codes (tools/common.c): EXIT_FAILURE (1) when the work
  fails (a file that cannot be read or loaded), EXIT_USAGE (2) for a bad command line. A
  "must refuse" check names the code with refused(), never "non-zero".
- missing(): a case that cannot run for want of test data or a dependency is a skip on a
  developer's machine and a failure under CI (CI=true), one per case.
- finish(): the result line tests/run.sh reads, adding the failures and skips above.
"""
import os
import re
import subprocess
import sys

EXIT_FAILURE = 1
EXIT_USAGE = 2
SANITIZER_EXIT = int(os.environ.get("TLM_SANITIZER_EXIT", "66"))

# What ASan, LeakSanitizer and UBSan print; none of it is ever a tool's own message.
REPORT = re.compile(r"ERROR: (AddressSanitizer|LeakSanitizer)|SUMMARY: UndefinedBehaviorSanitizer"
                    r"|^\S+:\d+:\d+: runtime error: |==\d+==ERROR: ", re.M)

IN_CI = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")

extra_failed = 0
extra_skipped = 0


def _text(x):
    if x is None:
        return ""
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else x


def trouble(returncode, stderr):
    """Why a finished tool run cannot be trusted (a sanitizer report or a signal), or None."""
    err = _text(stderr)
    m = REPORT.search(err)
    if m:
        start = err.rfind("\n", 0, m.start()) + 1
        return "sanitizer report: " + err[start:start + 300].strip()
    if returncode == SANITIZER_EXIT:
        return "exit %d, the sanitizers' exit code" % returncode
    if returncode is not None and (returncode < 0 or returncode > 128):
        sig = -returncode if returncode < 0 else returncode - 128
        return "killed by signal %d" % sig
    return None


def flag(what, why):
    """Counts one failure that no check of the test itself would see."""
    global extra_failed
    extra_failed += 1
    print("FAIL %s: %s" % (what, why))
    sys.stdout.flush()


def watch_log(what, returncode, text):
    """For a process whose stderr went to a log (a server): its sanitizer reports fail."""
    why = trouble(returncode, text)
    if why:
        flag(what, why)


_real_run = subprocess.run


def _watched_run(*args, **kwargs):
    r = _real_run(*args, **kwargs)
    why = trouble(r.returncode, r.stderr)
    if why:
        cmd = r.args if isinstance(r.args, str) else " ".join(str(a) for a in r.args)
        flag(os.path.basename(cmd.split(" ", 1)[0]) + " " + cmd.split(" ", 1)[-1][:160], why)
    return r


subprocess.run = _watched_run


def refused(rc, want):
    """A refusal with exactly the exit code the tool documents (not a crash, not any non-zero)."""
    return rc == want


def missing(what, n=1):
    """n cases that cannot run: test data or a dependency is absent."""
    global extra_failed, extra_skipped
    if IN_CI:
        extra_failed += n
        print("FAIL (missing under CI) %s: %d case%s not run" % (what, n, "s" if n != 1 else ""))
    else:
        extra_skipped += n
        print("skip (missing) %s: %d case%s not run" % (what, n, "s" if n != 1 else ""))


def finish(name, passed, failed, skipped=0):
    """Prints the result line; returns the exit status."""
    failed += extra_failed
    skipped += extra_skipped
    print("test_%s: %d passed, %d failed, %d skipped" % (name, passed, failed, skipped))
    return 1 if failed else 0


def run_on_model(exe, label, model, timeout=300):
    """A C test that takes one model file and prints "NAME: N passed, N failed": runs it,
    echoes its FAIL lines under `label`, returns (passed, failed); a crash, a timeout or no
    result line counts as a failure."""
    name = os.path.basename(exe)
    try:
        r = subprocess.run([exe, model], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        print("FAIL %s: timed out after %d s" % (label, timeout))
        return 0, 1
    m = re.search(r"%s: (\d+) passed, (\d+) failed" % re.escape(name), r.stdout)
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


def sanitizer_flags(library):
    """The -fsanitize flags a program needs to link against `library` (a .a or .so of a
    make asan / make ubsan build), so the tests that build programs against the library run
    under the same sanitizers instead of failing to link; [] for a plain build."""
    p = subprocess.run(["nm", "-u" if library.endswith(".a") else "-uD", library],
                       capture_output=True, text=True)
    flags = []
    if "__asan_" in p.stdout:
        flags.append("-fsanitize=address")
    if "__ubsan_" in p.stdout:
        flags.append("-fsanitize=undefined")
    return flags


def rerun_with_asan_preloaded(library, script):
    """For a test that loads `library` through ctypes: when it is a make asan build, ASan must
    be the process's first library and python3 is not built with it, so run `script` again
    with it preloaded (leak checks off: python3's own allocations are not ours) and return
    that run's exit status; None when the library needs nothing (run the test here)."""
    needed = subprocess.run(["readelf", "-d", library], capture_output=True, text=True).stdout
    if "libasan" not in needed or "libasan" in os.environ.get("LD_PRELOAD", ""):
        return None
    asan = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                          text=True).stdout.strip()
    env = dict(os.environ, LD_PRELOAD=asan,
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    return subprocess.run([sys.executable, os.path.abspath(script)], env=env).returncode


def instrumentation_symbol(name):
    """A symbol the sanitizers' instrumentation defines, not the library's code."""
    return name.startswith(("__odr_asan", "__asan_", "___asan_", "__ubsan_", "__sancov_"))
