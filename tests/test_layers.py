"""The layers of docs/design.md hold, checked three ways:

1. The build refuses a file that reaches across a layer: in a copy of the tree, a probe file
   that includes another layer's header is compiled by `make` as a file of that folder, and
   must fail (and the same include from a folder allowed to make it must build).
2. No include cycle: the graph of `#include "..."` between the project's headers and sources,
   resolved with each file's own include paths (asked of the Makefile), has no loop, and no
   file includes across folders by a relative path.
3. No call cycle: in the built objects, no two files of lib/ or kernels/ call each other in a
   loop (file A uses a symbol file B defines, and B, directly or not, one of A's).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

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


def tracked_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.split()
    files = []  # not a git checkout: every source below the top folders
    for top in ("Makefile", "include", "lib", "kernels", "tools", "tests"):
        p = os.path.join(ROOT, top)
        if os.path.isfile(p):
            files.append(top)
        for d, _, names in os.walk(p):
            files += [os.path.relpath(os.path.join(d, n), ROOT) for n in names]
    return files


# ---- 1. the build refuses a cross-layer include ------------------------------------------

PROBES = [
    # (where the probe lives, the header it includes, whether make must build it)
    ("lib/base/zz_probe.c", "context.h", False),         # base reaching up into runtime
    ("lib/format/zz_probe.c", "model.h", False),         # format reaching up into model
    ("lib/tokenizer/zz_probe.c", "chat.h", False),       # tokenizer reaching sideways
    ("lib/sampling/zz_probe.c", "tokenizer.h", False),   # sampling does not use tokenizer
    ("lib/model/zz_probe.c", "common.h", False),         # lib never includes tools/
    ("kernels/zz_probe.c", "tinylm.h", False),           # kernels never see the public API
    ("kernels/zz_probe.c", "checked.h", False),          # nor the library
    ("tools/zz_probe.c", "model.h", False),              # tools see only the public header
    ("tools/zz_probe.c", "kernels.h", False),
    ("lib/runtime/zz_probe.c", "context.h", True),       # controls: allowed includes build
    ("lib/runtime/zz_probe.c", "kernels.h", True),
    ("lib/chat/zz_probe.c", "tokenizer.h", True),
    ("kernels/zz_probe.c", "ktypes.h", True),
    ("tools/zz_probe.c", "tinylm.h", True),
]


def probe_builds(tree, path, header):
    src = os.path.join(tree, path)
    with open(src, "w") as f:
        f.write('#include "%s"\nint tlm_zz_probe(void) { return 0; }\n' % header)
    obj = os.path.join("pb", os.path.splitext(path)[0] + ".o")
    p = subprocess.run(["make", "-s", "-C", tree, "BUILD=pb", obj], capture_output=True, text=True)
    os.remove(src)
    return p.returncode == 0, (p.stderr.strip().splitlines() or [""])[-1]


def check_probes():
    with tempfile.TemporaryDirectory() as tree:
        for rel in tracked_files():
            if rel.endswith((".c", ".h")) or rel == "Makefile":
                dst = os.path.join(tree, rel)
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy(os.path.join(ROOT, rel), dst)
        for path, header, allowed in PROBES:
            ok, msg = probe_builds(tree, path, header)
            what = "builds" if allowed else "is refused by make"
            check("%s including %s %s" % (path, header, what), ok == allowed, msg if ok != allowed else "")


# ---- 2. include graph ----------------------------------------------------------------------

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def include_dirs(path):
    """The -I folders the Makefile gives this file, in order."""
    p = subprocess.run(["make", "-s", "-C", ROOT, "print-includes", "FILE=" + path],
                       capture_output=True, text=True)
    return [f[2:] for f in p.stdout.split() if f.startswith("-I") and not f.startswith("-I/")]


def check_includes():
    files = [f for f in tracked_files()
             if f.endswith((".c", ".h")) and f.split("/")[0] in ("lib", "kernels", "tools", "include")]
    dirs_of = {}
    graph = {}
    unresolved = []
    relative = []
    for f in files:
        d = os.path.dirname(f)
        folder = f.split("/")[0] + ("/" + f.split("/")[1] if f.startswith("lib/") else "")
        if folder not in dirs_of:
            dirs_of[folder] = include_dirs(f)
        with open(os.path.join(ROOT, f), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        edges = []
        for inc in INCLUDE.findall(text):
            if ".." in inc.split("/"):
                target = os.path.normpath(os.path.join(d, inc))
                if target.split("/")[0] != f.split("/")[0] or (
                        f.startswith("lib/") and target.split("/")[:2] != f.split("/")[:2]):
                    relative.append("%s -> %s" % (f, inc))
            else:
                target = None
                for cand in [d] + dirs_of[folder]:
                    if os.path.exists(os.path.join(ROOT, cand, inc)):
                        target = os.path.normpath(os.path.join(cand, inc))
                        break
                if target is None:
                    if not os.path.exists(os.path.join("/usr/include/stb", inc)):
                        unresolved.append("%s -> %s" % (f, inc))
                    continue
            edges.append(target)
        graph[f] = edges
    check("every project include resolves within the file's layers", not unresolved,
          "; ".join(unresolved[:5]))
    check("no include reaches across folders by a relative path", not relative,
          "; ".join(relative[:5]))
    cycles = strongly_connected(graph)
    check("no include cycle among %d files" % len(graph), not cycles,
          "; ".join(" <-> ".join(sorted(c)) for c in cycles[:3]))


# ---- 3. call graph -------------------------------------------------------------------------

def check_calls():
    objs = []
    for top in ("lib", "kernels"):
        for d, _, names in os.walk(os.path.join(BUILD, top)):
            objs += [os.path.join(d, n) for n in names if n.endswith(".o")]
    if not objs:
        check("built objects to read the call graph from", False, "none under " + BUILD)
        return
    defines, uses = {}, {}
    for o in objs:
        out = subprocess.run(["nm", o], capture_output=True, text=True).stdout
        uses[o] = set()
        for line in out.splitlines():
            p = line.split()
            if len(p) == 3 and p[1] in "TDBRVWG":
                defines[p[2]] = o
            elif len(p) == 2 and p[0] == "U":
                uses[o].add(p[1])
    graph = {o: [defines[s] for s in uses[o] if s in defines and defines[s] != o] for o in objs}
    cycles = strongly_connected(graph)
    name = lambda o: os.path.relpath(o, BUILD)
    check("no call cycle among %d objects of lib/ and kernels/" % len(objs), not cycles,
          "; ".join(" <-> ".join(sorted(map(name, c))) for c in cycles[:3]))


def strongly_connected(graph):
    """Tarjan's algorithm, iterative: the components of more than one node (or a self-loop)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1 or v in graph.get(v, ()):
                    out.append(comp)
    return out


def check_cycle_finder():
    """The finder itself must see a loop where there is one, or the checks above prove nothing."""
    check("cycle finder sees a loop", len(strongly_connected({"a": ["b"], "b": ["c"], "c": ["a"]})) == 1)
    check("cycle finder sees no loop in a chain", not strongly_connected({"a": ["b"], "b": ["c"], "c": []}))


if __name__ == "__main__":
    check_cycle_finder()
    check_probes()
    check_includes()
    check_calls()
    print("test_layers: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
