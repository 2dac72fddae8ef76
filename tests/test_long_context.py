#!/usr/bin/python3
"""test_long_context.py - long context against the independent NumPy reference (tests/ref/).

Run by tests/run.sh with TLM_BUILD = the build directory holding the tools. Models are the
small presets of tests/ref/presets.py (LONG: LongRoPE with an original context of 32, Qwen v1
with seq_length 32; SMALL["phi3"]: a window of 16), written with seeded random weights as HF
directories and GGUF files. Checked, all at F32 KV cache:

- LongRoPE (long and short factors) and Qwen's dynamic NTK + logn over 128 tokens against
  model_ref.forward, evaluated in one batch (-b 256) and token by token (-b 1): 1e-4.
- The sliding-window cache (window + two batches of cells) against a full cache over 6x the
  window: bit-identical logits, for several batch sizes.
- Context shift (tlm-logits --context-shift): against model_ref.forward_shifting, the
  reference's token-by-token run with the same shifts, for both RoPE layouts, partial RoPE,
  LongRoPE and NTK: 1e-4. With one layer a shifted cache is exactly a fresh evaluation of the
  kept tokens at their new positions, so there the engine's own fresh run must agree too.
- Prompt cache (tlm-generate --prompt-cache): no cache, saving, loading in a new process and
  a longer prompt sharing the prefix give identical greedy ids and bit-identical logits; a
  file of another model, a truncated file, another KV type are clear errors.
- Context policy: tlm-generate stops with a message at the context size, goes on with
  --context-shift. Memory: a budget too small is an error naming the bytes and the largest
  context that fits, and that context is accepted.
Last line: "test_long_context: N passed, M failed".
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.join(HERE, "ref"))

import model_files as mf        # noqa: E402
import model_ref as ref         # noqa: E402
import presets                  # noqa: E402
import selfcheck                # noqa: E402
import testlib                  # noqa: E402

TOL = 1e-4
TIMEOUT = 60


class Tools:
    def __init__(self, build, tmp):
        self.build, self.tmp, self.n = build, tmp, 0

    def run(self, tool, args):
        exe = os.path.join(self.build, tool)
        if not os.access(exe, os.X_OK):
            return 127, "", "%s not found" % exe
        try:
            r = subprocess.run([exe] + [str(a) for a in args], capture_output=True, text=True,
                               timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            return 124, "", "timed out"
        return r.returncode, r.stdout, r.stderr

    def logits(self, model, tokens, *extra):
        """(logits [T, vocab], None) or (None, why)."""
        self.n += 1
        out = os.path.join(self.tmp, "out%d.f32" % self.n)
        rc, _, err = self.run("tlm-logits", ["-m", model, "--tokens",
                                             ",".join(str(int(x)) for x in tokens),
                                             "-o", out, "-t", "1"] + list(extra))
        if rc != 0:
            lines = err.strip().splitlines()
            return None, "exit %d: %s" % (rc, lines[-1] if lines else "")
        return np.fromfile(out, dtype="<f4").reshape(len(tokens), -1), None


def compare(t, label, got, want, err, tol=TOL):
    if got is None:
        return t.check(False, "%s: %s" % (label, err))
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    worst = float(np.max(diff)) if np.all(np.isfinite(got)) else float("nan")
    return t.check(worst <= tol, "%s max_abs=%.2e" % (label, worst))


def write_model(tmp, name, cfg, weights, fmt):
    path = os.path.join(tmp, "%s-%s" % (name, fmt))
    if fmt == "hf":
        mf.write_hf_dir(path, cfg, weights, "F32")
    else:
        path += ".gguf"
        mf.write_gguf(path, cfg, weights, "F32", name="tlm-test-" + name)
    return path


def check_reference(t, tools, tmp):
    """LongRoPE, NTK and logn against the reference, one batch and token by token."""
    for k, (name, cfg) in enumerate(presets.LONG.items()):
        w = mf.random_weights(cfg, 500 + k)
        feat = ref.features(cfg)
        toks = np.random.default_rng(50 + k).integers(0, cfg["vocab_size"], 128).tolist()
        if feat.longrope:
            # n_ctx 128 > original 32: long factors (llama.cpp's rule; HF's for a 128-token
            # forward too); forced short; and a context within the original (short)
            cases = [("long (auto, n_ctx 128)", toks, [], {}),
                     ("short (forced)", toks, ["--rope-factors", "short"], {"factors": "short"}),
                     ("short (auto, n_ctx 24)", toks[:24], [], {})]
        else:
            # alpha 7 for 128 tokens over seq_length 32, logn past position 31; both off; a
            # fixed alpha with logn
            cases = [("NTK alpha 7 + logn", toks, [], {}),
                     ("NTK and logn off", toks, ["--ntk-alpha", 1, "--no-logn"],
                      {"alpha": 1, "logn": False}),
                     ("fixed alpha 3 + logn", toks, ["--ntk-alpha", 3], {"alpha": 3})]
        for fmt in ("hf", "gguf"):
            path = write_model(tmp, name, cfg, w, fmt)
            for label, tk, flags, kw in cases:
                want = ref.forward(feat, w, tk, **kw)
                for b in (256, 1):
                    got, err = tools.logits(path, tk, "-b", b, *flags)
                    compare(t, "%s %s %s, %d tokens, -b %d" % (name, fmt, label, len(tk), b),
                            got, want, err)


def check_window_cache(t, tools, tmp):
    """The window cache against the full cache: same bits; both against the reference."""
    cfg = presets.SMALL["phi3"]
    w = mf.random_weights(cfg, 600)
    path = write_model(tmp, "phi3-window", cfg, w, "hf")
    win = cfg["sliding_window"]
    toks = np.random.default_rng(60).integers(0, cfg["vocab_size"], 6 * win).tolist()
    full, err = tools.logits(path, toks, "-b", 1, "--full-cache")
    compare(t, "window %d full cache vs reference, %d tokens" % (win, len(toks)), full,
            ref.forward(ref.features(cfg), w, toks), err)
    for b in (1, 3, 7, 256):
        got, err = tools.logits(path, toks, "-b", b)
        if got is None or full is None:
            t.check(False, "window cache -b %d: %s" % (b, err or "no full-cache logits"))
            continue
        t.check(np.array_equal(got, full), "window cache (-b %d) = full cache bit for bit over %d "
                "tokens (max_abs %.1e)" % (b, len(toks), float(np.max(np.abs(got - full)))))


def shift_rows(tokens, n_ctx, keep):
    """The kept sequence after each token under tlm-logits --context-shift."""
    kept, rows = [], []
    for tok in tokens:
        if len(kept) + 1 > n_ctx:
            drop = (len(kept) - keep) // 2
            kept = kept[:keep] + kept[keep + drop:]
        kept.append(tok)
        rows.append(list(kept))
    return rows


SHIFT_CASES = [  # (name, config, format, tlm-logits flags, reference kwargs)
    ("tinyllama (GGUF: adjacent pairs)", presets.SMALL["tinyllama"], "gguf", [], {}),
    ("phi2 (partial RoPE 8 of 20)", presets.SMALL["phi2"], "hf", [], {}),
    ("phi3_128k (LongRoPE long)", presets.LONG["phi3_128k"], "hf", [], {"factors": "long"}),
    ("qwen_32 (NTK alpha 3, logn)", presets.LONG["qwen_32"], "gguf", ["--ntk-alpha", 3],
     {"alpha": 3}),
    ("phi3 (window 16 cache)", presets.SMALL["phi3"], "hf", [], {}),
]


def check_shift(t, tools, tmp):
    n_ctx, keep, n = 40, 4, 100
    for k, (name, cfg, fmt, flags, kw) in enumerate(SHIFT_CASES):
        for layers in (cfg["num_hidden_layers"], 1):
            c = dict(cfg, num_hidden_layers=layers)
            w = mf.random_weights(c, 700 + k)
            path = write_model(tmp, "shift%d-%d" % (k, layers), c, w, fmt)
            toks = np.random.default_rng(70 + k).integers(0, c["vocab_size"], n).tolist()
            args = ["-c", n_ctx, "--context-shift", keep] + flags
            got, err = tools.logits(path, toks, *args)
            want = ref.forward_shifting(ref.features(c), w, toks, n_ctx, keep, **kw)
            compare(t, "shift %s, %d layers: %d tokens through %d positions vs reference"
                    % (name, layers, n, n_ctx), got, want, err)
            if layers != 1 or got is None:
                continue
            # one layer: the cache after a shift is the fresh cache of the kept tokens
            rows = shift_rows(toks, n_ctx, keep)
            worst, bad = 0.0, None
            for r in (n_ctx, n_ctx + 1, n_ctx + 9, 77, n - 1):
                fresh, e = tools.logits(path, rows[r], "-c", n_ctx, *flags)
                if fresh is None:
                    bad = e
                    break
                worst = max(worst, float(np.max(np.abs(fresh[-1] - got[r]))))
            t.check(bad is None and worst <= TOL, "shift %s, 1 layer: = fresh evaluation of the "
                    "kept tokens at their new positions max_abs=%.2e %s" % (name, worst, bad or ""))


def generate(tools, model, tokens, *extra):
    args = ["-m", model, "--tokens", ",".join(map(str, tokens)), "--temp", 0, "--show-ids",
            "--kv-type", "f32", "-t", 1] + list(extra)
    return tools.run("tlm-generate", args)


def check_prompt_cache(t, tools, tmp):
    cfg = presets.LONG["qwen_32"]
    w = mf.random_weights(cfg, 800)
    model = write_model(tmp, "pc", cfg, w, "gguf")
    other = write_model(tmp, "pc-other", cfg, mf.random_weights(cfg, 801), "gguf")
    prompt = np.random.default_rng(80).integers(0, cfg["vocab_size"], 40).tolist()
    cache = os.path.join(tmp, "prompt.cache")
    out = {}
    for run, extra in (("plain", []), ("save", ["--prompt-cache", cache]),
                       ("load", ["--prompt-cache", cache])):
        lg = os.path.join(tmp, "pc-%s.f32" % run)
        rc, ids, err = generate(tools, model, prompt, "-n", 40, "-c", 96, "--logits-out", lg,
                                *extra)
        t.check(rc == 0, "prompt cache run '%s' exit %d %s" % (run, rc, err.strip()[-200:]))
        out[run] = (ids.split(), np.fromfile(lg, "<f4") if os.path.exists(lg) else None, err)
    reused = re.search(r"(\d+) of (\d+) prompt tokens reused", out["load"][2])
    t.check(reused is not None and reused.group(1) == reused.group(2) == "40",
            "prompt cache: the new process reuses all 40 prompt tokens")
    for run in ("save", "load"):
        ids, lg, _ = out[run]
        t.check(ids == out["plain"][0] and len(ids) == 40, "prompt cache '%s': same 40 greedy ids"
                % run)
        t.check(lg is not None and out["plain"][1] is not None
                and np.array_equal(lg, out["plain"][1]), "prompt cache '%s': logits bit-identical"
                % run)
    # a longer prompt sharing the cached prefix: only the new tokens are evaluated
    longer = prompt + [7, 8, 9]
    res = []
    for extra in ([], ["--prompt-cache", cache]):
        lg = os.path.join(tmp, "pc-longer%d.f32" % len(extra))
        rc, ids, err = generate(tools, model, longer, "-n", 20, "-c", 96, "--logits-out", lg,
                                *extra)
        res.append((rc, ids.split(), np.fromfile(lg, "<f4") if rc == 0 else None, err))
    t.check(res[0][0] == 0 and res[1][0] == 0 and "40 of 43 prompt tokens reused" in res[1][3]
            and res[0][1] == res[1][1], "prompt cache: a longer prompt reuses the 40-token prefix, "
            "same ids")
    if res[0][2] is not None and res[1][2] is not None:
        compare(t, "prompt cache: longer prompt logits", res[1][2], res[0][2], None)
    # refusals, each with its reason
    rc, _, err = generate(tools, other, longer, "-n", 2, "-c", 96, "--prompt-cache", cache)
    t.check(testlib.refused(rc, testlib.EXIT_FAILURE) and "another model" in err, "prompt cache of another model refused: %s"
            % err.strip()[-160:])
    truncated = os.path.join(tmp, "truncated.cache")
    with open(cache, "rb") as f, open(truncated, "wb") as g:
        g.write(f.read()[:-10])
    rc, _, err = generate(tools, model, prompt, "-n", 2, "-c", 96, "--prompt-cache", truncated)
    t.check(testlib.refused(rc, testlib.EXIT_FAILURE) and "header says" in err, "truncated prompt cache refused: %s"
            % err.strip()[-160:])
    rc, _, err = generate(tools, model, prompt, "-n", 2, "-c", 96, "--kv-type", "f16",
                          "--prompt-cache", cache)
    t.check(testlib.refused(rc, testlib.EXIT_FAILURE) and "F32 KV cache" in err, "prompt cache of another KV type refused: %s"
            % err.strip()[-160:])


def check_policy_and_memory(t, tools, tmp):
    cfg = presets.SMALL["tinyllama"]
    model = write_model(tmp, "policy", cfg, mf.random_weights(cfg, 900), "hf")
    prompt = list(range(5, 15))
    rc, ids, err = generate(tools, model, prompt, "-n", 30, "-c", 20)
    # 10 prompt positions + 10 generated fill 20; the 11th id comes from the last logits
    t.check(rc == 0 and len(ids.split()) == 11 and "stopped: the context is full" in err,
            "at the context size generation stops with a message (%d ids)" % len(ids.split()))
    rc, ids, err = generate(tools, model, prompt, "-n", 30, "-c", 20, "--context-shift",
                            "--keep", 2)
    t.check(rc == 0 and len(ids.split()) == 30 and "context shift" in err,
            "--context-shift goes on past the context size (%d ids)" % len(ids.split()))
    rc, _, err = tools.run("tlm-logits", ["-m", model, "--tokens", "1,2,3", "-o",
                                          os.path.join(tmp, "m.f32"), "-c", 100000,
                                          "--mem-budget", 3000000])
    m = re.search(r"needs (\d+) bytes.*largest context that fits is (\d+) positions", err)
    t.check(testlib.refused(rc, testlib.EXIT_FAILURE) and m is not None, "a context over the memory budget is refused: %s"
            % err.strip()[-200:])
    if m:
        fit = int(m.group(2))
        for n_ctx, ok in ((fit, True), (fit + 1, False)):
            rc, _, err = tools.run("tlm-logits", ["-m", model, "--tokens", "1,2,3", "-o",
                                                  os.path.join(tmp, "m.f32"), "-c", n_ctx,
                                                  "--mem-budget", 3000000])
            t.check(rc == (0 if ok else testlib.EXIT_FAILURE), "the largest fitting context (%d) %s: %s"
                    % (n_ctx, "fits" if ok else "+1 does not", err.strip()[-120:]))


def main():
    start = time.time()
    build = os.environ.get("TLM_BUILD") or os.path.normpath(os.path.join(HERE, "..", "build"))
    t = selfcheck.Tally()
    tmp = tempfile.mkdtemp(prefix="tlm-long-")
    tools = Tools(build, tmp)
    try:
        check_reference(t, tools, tmp)
        check_window_cache(t, tools, tmp)
        check_shift(t, tools, tmp)
        check_prompt_cache(t, tools, tmp)
        check_policy_and_memory(t, tools, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("(%.1f s)" % (time.time() - start))
    return testlib.finish("long_context", t.passed, t.failed)


if __name__ == "__main__":
    sys.exit(main())
