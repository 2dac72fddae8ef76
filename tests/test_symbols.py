"""Clean symbols: libtinylm can be linked into a program that has its own GGUF reader or stb_ds.

- every global symbol that libtinylm.a defines, and every dynamic symbol libtinylm.so exports,
  starts with tlm_ (nm);
- the shared library exports only the public API: each exported name is declared in tinylm.h;
- a program that defines names a GGUF reader (ggml's among them), safetensors reader or stb_ds
  copy would define links statically against libtinylm.a and runs.
"""
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("TLM_BUILD", os.path.join(ROOT, "build"))

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def defined_globals(args):
    p = subprocess.run(["nm"] + args, capture_output=True, text=True)
    if p.returncode != 0:
        return None
    names = set()
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBRVWGiu" and not testlib.instrumentation_symbol(parts[2]):
            names.add(parts[2])
    return names


def main():
    static = os.path.join(BUILD, "libtinylm.a")
    shared = os.path.join(BUILD, "libtinylm.so")
    a = defined_globals(["-g", "--defined-only", static])
    so = defined_globals(["-D", "--defined-only", shared])
    check("nm reads libtinylm.a", bool(a))
    check("nm reads libtinylm.so", bool(so))
    a, so = a or set(), so or set()
    bad = sorted(n for n in a if not n.startswith("tlm_"))
    check("every global symbol of libtinylm.a starts with tlm_ (%d)" % len(a), not bad,
          " ".join(bad[:12]))
    bad = sorted(n for n in so if not n.startswith("tlm_"))
    check("every exported symbol of libtinylm.so starts with tlm_ (%d)" % len(so), not bad,
          " ".join(bad[:12]))
    with open(os.path.join(ROOT, "include", "tinylm.h")) as f:
        header = f.read()
    declared = set(re.findall(r"\b(tlm_\w+)\s*\(", header))
    extra = sorted(n for n in so if n not in declared)
    check("libtinylm.so exports only functions tinylm.h declares", not extra, " ".join(extra[:12]))

    # A program with its own gguf_*, st_* and stbds_* functions next to the static library.
    clashes = ["gguf_find_tensor", "gguf_open", "gguf_close", "gguf_find", "gguf_get_str",
               "gguf_writer_open", "st_open", "st_find_tensor", "stbds_arrgrowf",
               "stbds_hmget_key", "stbds_hash_string"]
    src = "#include <stdio.h>\n#include \"tinylm.h\"\n"
    src += "".join("int %s(void) { return %d; }\n" % (n, i + 1) for i, n in enumerate(clashes))
    src += ("int main(void) {\n    int s = 0;\n"
            + "".join("    s += %s();\n" % n for n in clashes)
            + '    printf("%d %s\\n", s, tlm_kernels_isa());\n    return 0;\n}\n')
    with tempfile.TemporaryDirectory() as tmp:
        c = os.path.join(tmp, "app.c")
        exe = os.path.join(tmp, "app")
        with open(c, "w") as f:
            f.write(src)
        p = subprocess.run(["cc", "-std=c11", "-I", os.path.join(ROOT, "include"), c, static,
                            "-fopenmp", "-lcjson", "-lpcre2-8", "-lm", "-lpthread", "-ldl",
                            "-o", exe] + testlib.sanitizer_flags(static),
                           capture_output=True, text=True)
        check("a program defining %s links against libtinylm.a" % ", ".join(clashes[:3]),
              p.returncode == 0, p.stderr.strip()[-400:])
        if p.returncode == 0:
            r = subprocess.run([exe], capture_output=True, text=True)
            want = sum(range(1, len(clashes) + 1))
            check("and runs, its own functions and libtinylm's both called",
                  r.returncode == 0 and r.stdout.split()[:1] == [str(want)], r.stdout + r.stderr)
    print("test_symbols: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
