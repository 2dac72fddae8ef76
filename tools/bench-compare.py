#!/usr/bin/python3
"""bench-compare.py - libtinylm against other engines on the same GGUF files, interleaved.

    tools/bench-compare.py --baseline llama.cpp=PATH/llama-bench \\
        [--baseline ik_llama.cpp=PATH/llama-bench] [-t 2] [-p 512] [-n 128] [-r 5] MODEL.gguf...

Shared cloud machines drift: memory bandwidth here has moved between 33 and 60 GB/s from one
minute to the next. So every round runs each engine once, back to back (prefill pp and decode
tg, as llama-bench measures them), and the report gives per engine the median over rounds and
the median of the per-round ratios tlm / baseline, so a drift hits both sides of a ratio.
tlm-bench (next to this script's build/) also measures the streaming read in each round: the
decode GB/s column is weight bytes x tokens/s and its share of that read.
Prints a markdown table; --json FILE writes every round.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def llama_bench(exe, model, threads, n_prompt, n_gen):
    """(prefill t/s, decode t/s) from one llama-bench run of each test."""
    out = []
    for p, n in ((n_prompt, 0), (0, n_gen)):
        r = subprocess.run([exe, "-m", model, "-t", str(threads), "-p", str(p), "-n", str(n),
                            "-r", "1", "-o", "json"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("%s failed: %s" % (exe, r.stderr.strip()[-300:]))
        out.append(float(json.loads(r.stdout)[0]["avg_ts"]))
    return tuple(out)


def tlm_bench(exe, model, threads, n_prompt, n_gen):
    """(prefill t/s, decode t/s, decode GB/s, % of the read) from one tlm-bench run."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        r = subprocess.run([exe, "-m", model, "-t", str(threads), "-p", str(n_prompt), "-n",
                            str(n_gen), "-r", "1", "--json", f.name], capture_output=True,
                           text=True)
        if r.returncode != 0:
            sys.exit("%s failed: %s" % (exe, r.stderr.strip()[-300:]))
        res = json.load(open(f.name))
    row = res["results"][0]
    return row["prefill_tps"], row["decode_tps"], row["decode_gbs"], row["pct_of_read"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--baseline", action="append", required=True, metavar="NAME=LLAMA_BENCH")
    ap.add_argument("--tlm-bench", default=os.path.join(HERE, "..", "build", "tlm-bench"))
    ap.add_argument("-t", type=int, default=2)
    ap.add_argument("-p", type=int, default=512)
    ap.add_argument("-n", type=int, default=128)
    ap.add_argument("-r", type=int, default=5, help="rounds")
    ap.add_argument("--json")
    a = ap.parse_args()
    bases = [b.split("=", 1) for b in a.baseline]
    rounds = []
    for model in a.models:
        for i in range(a.r):
            rec = {"model": os.path.basename(model), "round": i}
            for name, exe in bases:
                rec[name] = llama_bench(exe, model, a.t, a.p, a.n)
            rec["tlm"] = tlm_bench(a.tlm_bench, model, a.t, a.p, a.n)
            rounds.append(rec)
            print("%s round %d: %s" % (rec["model"], i + 1, " ".join(
                "%s pp %.1f tg %.2f" % (k, rec[k][0], rec[k][1]) for k in [n for n, _ in bases]
                + ["tlm"])), file=sys.stderr)
    med = statistics.median
    print("%d threads, pp%d and tg%d, median of %d interleaved rounds\n" % (a.t, a.p, a.n, a.r))
    cols = ["model"]
    for n in [n for n, _ in bases] + ["libtinylm"]:
        cols += ["%s pp%d t/s" % (n, a.p), "%s tg%d t/s" % (n, a.n)]
    cols.append("libtinylm decode GB/s (% of read)")
    for n, _ in bases:
        cols += ["pp vs %s" % n, "tg vs %s" % n]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for model in dict.fromkeys(r["model"] for r in rounds):
        rs = [r for r in rounds if r["model"] == model]
        cells = [model]
        for n in [n for n, _ in bases] + ["tlm"]:
            cells += ["%.1f" % med(r[n][0] for r in rs), "%.2f" % med(r[n][1] for r in rs)]
        cells.append("%.1f (%.0f%%)" % (med(r["tlm"][2] for r in rs), med(r["tlm"][3] for r in rs)))
        for n, _ in bases:
            cells += ["%.2fx" % med(r["tlm"][0] / r[n][0] for r in rs),
                      "%.2fx" % med(r["tlm"][1] / r[n][1] for r in rs)]
        print("| " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rounds, f, indent=1)


if __name__ == "__main__":
    main()
