"""make install / uninstall into a temporary prefix, then an example built against it with
pkg-config, linked shared and static. Checks: the files and symlinks installed, the soname
(readelf -d), tinylm.pc's version against include/tinylm.h, only tlm_ symbols exported (nm),
DESTDIR staging, and that uninstall removes everything it installed."""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("TLM_BUILD", "build"))
SHARED = os.environ.get("TLM_SHARED", os.path.join(ROOT, "..", "shared"))
GGUF = os.path.join(SHARED, "models", "stories260K.gguf")
CC = os.environ.get("CC", "cc")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def sh(args, env=None, cwd=None):
    full = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    full.update(env or {})
    p = subprocess.run(args, capture_output=True, text=True, env=full, cwd=cwd)
    return p.returncode, p.stdout, p.stderr


def header_version():
    with open(os.path.join(ROOT, "include", "tinylm.h")) as f:
        text = f.read()
    part = lambda n: re.search(r"#define TLM_VERSION_%s (\d+)" % n, text).group(1)
    return part("MAJOR"), part("MINOR"), part("PATCH")


def make(*args):
    return sh(["make", "-C", ROOT, "BUILD=" + BUILD] + list(args))


def main():
    major, minor, patch = header_version()
    version = "%s.%s.%s" % (major, minor, patch)
    soname = "libtinylm.so." + (major if major != "0" else "0." + minor)
    tmp = tempfile.mkdtemp(prefix="tlm-install-")
    prefix = os.path.join(tmp, "prefix")
    try:
        rc, out, err = make("PREFIX=" + prefix, "install")
        check("make install into a temporary prefix", rc == 0, err[-400:])
        lib = os.path.join(prefix, "lib")
        real = os.path.join(lib, "libtinylm.so." + version)
        check("the library is libtinylm.so." + version, os.path.isfile(real)
              and not os.path.islink(real))
        check("symlinks: %s and libtinylm.so lead to it" % soname,
              os.path.realpath(os.path.join(lib, soname)) == os.path.realpath(real)
              and os.path.realpath(os.path.join(lib, "libtinylm.so")) == os.path.realpath(real)
              and os.path.islink(os.path.join(lib, soname)))
        check("header, static library and pkg-config file installed",
              all(os.path.isfile(p) for p in (os.path.join(prefix, "include", "tinylm.h"),
                                               os.path.join(lib, "libtinylm.a"),
                                               os.path.join(lib, "pkgconfig", "tinylm.pc"))))
        check("no tools installed by make install", not os.path.exists(os.path.join(prefix, "bin")))
        rc, out, _ = sh(["readelf", "-d", real])
        check("readelf -d: SONAME is " + soname, "Library soname: [%s]" % soname in out)
        rc, out, _ = sh(["nm", "-D", "--defined-only", real])
        names = [l.split()[-1] for l in out.splitlines() if l.strip()]
        bad = [n for n in names if not n.startswith("tlm_") and not testlib.instrumentation_symbol(n)]
        check("nm -D: only tlm_ symbols exported (%d)" % len(names), rc == 0 and names and not bad,
              " ".join(bad[:10]))
        rc, out, _ = sh(["nm", "-g", "--defined-only", os.path.join(lib, "libtinylm.a")])
        names = [l.split()[-1] for l in out.splitlines() if l.strip() and ":" not in l]
        bad = [n for n in names if not n.startswith("tlm_") and not testlib.instrumentation_symbol(n)]
        check("nm -g libtinylm.a: only tlm_ globals (%d)" % len(names), rc == 0 and names and not bad,
              " ".join(bad[:10]))

        pc_env = {"PKG_CONFIG_PATH": os.path.join(lib, "pkgconfig")}
        rc, out, err = sh(["pkg-config", "--modversion", "tinylm"], pc_env)
        check("pkg-config --modversion is the header's " + version, out.strip() == version, err)
        rc, cflags, _ = sh(["pkg-config", "--cflags", "tinylm"], pc_env)
        rc2, libs, _ = sh(["pkg-config", "--libs", "tinylm"], pc_env)
        rc3, slibs, err = sh(["pkg-config", "--static", "--libs", "tinylm"], pc_env)
        check("pkg-config --static lists the private dependencies",
              rc3 == 0 and "-lcjson" in slibs and "-lpcre2-8" in slibs, slibs + err)

        src = os.path.join(ROOT, "examples", "generate.c")
        inc = "-I" + os.path.join(ROOT, "examples")  # examples/common.h
        shared_exe, static_exe = os.path.join(tmp, "gen-shared"), os.path.join(tmp, "gen-static")
        san = testlib.sanitizer_flags(os.path.join(lib, "libtinylm.a"))  # make asan / ubsan
        rc, _, err = sh([CC, "-std=c11", "-O1", inc, src, "-o", shared_exe] + cflags.split() + libs.split()
                        + san)
        built = rc == 0
        check("example builds against the installed shared library", rc == 0, err[-400:])
        static_libs = [("-l:libtinylm.a" if a == "-ltinylm" else a) for a in slibs.split()]
        rc, _, err = sh([CC, "-std=c11", "-O1", inc, src, "-o", static_exe] + cflags.split() + static_libs
                        + san)
        built = built and rc == 0
        check("example builds against the installed static library", rc == 0, err[-400:])
        _, dyn, _ = sh(["readelf", "-d", shared_exe])
        check("the shared build needs " + soname, "Shared library: [%s]" % soname in dyn)
        _, dyn, _ = sh(["readelf", "-d", static_exe])
        check("the static build needs no libtinylm.so", built and "libtinylm" not in dyn)
        if built and os.path.exists(GGUF):
            for exe, env in ((shared_exe, {"LD_LIBRARY_PATH": lib}), (static_exe, {})):
                rc, out, err = sh([exe, GGUF, "-n", "8"], env)
                check("%s runs: %r" % (os.path.basename(exe), out.strip()),
                      rc == 0 and out.startswith("Once upon a time"), err)

        rc, _, err = make("PREFIX=" + prefix, "uninstall")
        left = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs]
        check("make uninstall removes every installed file", rc == 0 and not left,
              err + " ".join(left))

        stage = os.path.join(tmp, "stage")
        rc, _, err = make("DESTDIR=" + stage, "PREFIX=/usr", "LIBDIR=/usr/lib/x86_64-linux-gnu",
                          "install")
        pc = os.path.join(stage, "usr/lib/x86_64-linux-gnu/pkgconfig/tinylm.pc")
        text = open(pc).read() if os.path.exists(pc) else ""
        check("DESTDIR and LIBDIR: staged, with the final paths in tinylm.pc",
              rc == 0 and "libdir=/usr/lib/x86_64-linux-gnu" in text and "prefix=/usr" in text
              and os.path.isfile(os.path.join(stage, "usr/include/tinylm.h")), err[-300:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_install: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
