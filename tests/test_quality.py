#!/usr/bin/python3
"""test_quality.py - tlm-perplexity and tlm-eval on the real stories260K weights against a
plain NumPy computation over the same windows and choices.

Run by tests/run.sh with TLM_BUILD (the tools) and TLM_SHARED (models/). The NumPy side is
tests/ref/model_ref.py's forward pass on weights read by tests/ref/model_files.py (no code or
output of the engine); token ids come from tlm-tokenize (tested elsewhere against independent
vectors). Checked:

1. Chunks (llama.cpp's method, -c 64): ppl to rel 1e-4, its +/- to rel 1e-3, the token and chunk
   counts; the --save-logits file: header, token ids, and every row against NumPy's log-softmax.
2. --stride (Hugging Face's sliding window, written here as its documented loop): same checks.
3. --kl-divergence: the model against its own file (KL ~ 0, top-1 100 %); a Q8_0 file made by
   tlm-quantize against the float base: the reported KL and top-1 equal NumPy's from the two
   saved files, and are close to NumPy's forward on the dequantized Q8_0 weights.
4. tlm-eval on a small JSONL of generic, HellaSwag and MMLU lines: every choice's
   log-likelihood to 1e-3 and token count, each pick, acc and acc_norm exactly, their +/-.
5. Bad inputs give a clear "error:" and a non-zero exit, never a crash.
Last line: "test_quality: N passed, M failed".
"""

import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "ref"))
sys.path.insert(0, HERE)

import model_files as mf        # noqa: E402
import model_ref as ref         # noqa: E402
import selfcheck                # noqa: E402
import testlib                  # noqa: E402
import test_quantize as tq      # noqa: E402  (its GGUF reader and dequantizers: NumPy only)

BUILD = os.environ.get("TLM_BUILD") or os.path.normpath(os.path.join(HERE, "..", "build"))
MODELS = os.path.join(selfcheck.shared_dir(), "models")
BIN = os.path.join(MODELS, "stories260K.bin")
GGUF = os.path.join(MODELS, "stories260K.gguf")
TOK = os.path.join(MODELS, "tok512.bin")
N_CTX, STRIDE, BOS = 64, 24, 1
TIMEOUT = 120
COMMON = ["-t", "1", "--kv-type", "f32", "--no-progress"]


def run(args, stdin=None):
    """(exit code, stdout, stderr); exit -1000 when the program is missing or hangs."""
    exe = os.path.join(BUILD, args[0])
    if not os.access(exe, os.X_OK):
        return -1000, "", "%s not found" % exe
    try:
        r = subprocess.run([exe] + [str(a) for a in args[1:]], capture_output=True,
                           input=stdin, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return -1000, "", "timed out after %d s" % TIMEOUT
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def last_line(text):
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else "(no output)"


def tokenize(texts, bos):
    """Ids of each text with tlm-tokenize (GGUF vocabulary, the same as tok512.bin's)."""
    stdin = "".join(t.encode("utf-8").hex() + "\n" for t in texts).encode()
    args = ["tlm-tokenize", "-m", GGUF, "--hex-lines"] + (["--bos"] if bos else [])
    rc, out, err = run(args, stdin)
    if rc != 0:
        raise RuntimeError("tlm-tokenize: " + last_line(err))
    lines = out.splitlines()
    if len(lines) != len(texts):
        raise RuntimeError("tlm-tokenize gave %d lines for %d texts" % (len(lines), len(texts)))
    return [[int(v) for v in ln.split()] for ln in lines]


def log_softmax(x):
    x = np.asarray(x, np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def ppl_stats(nll):
    """ppl and its +/- as llama.cpp prints them: exp(mean), exp(mean) * sqrt(var / (n - 1))."""
    nll = np.asarray(nll, np.float64)
    mean = nll.mean()
    var = (nll * nll).mean() - mean * mean
    return math.exp(mean), math.exp(mean) * math.sqrt(max(var, 0.0) / (len(nll) - 1))


def parse_ppl(stdout):
    m = re.search(r"^ppl = ([0-9.eE+-]+) \+/- ([0-9.eE+-]+) \((\d+) tokens, (\d+) (chunks|windows)\)$",
                  stdout.strip().splitlines()[-1] if stdout.strip() else "")
    return (float(m.group(1)), float(m.group(2)), int(m.group(3)), int(m.group(4))) if m else None


def story_text(n, seed):
    rng = np.random.RandomState(seed)
    names, things = ["Lily", "Tom", "Ben", "Sue", "Max"], ["ball", "dog", "cat", "tree", "cake", "box"]
    adjs = ["big", "red", "happy", "little", "sad", "shiny"]
    out = []
    for _ in range(n):
        nm, th, ad = names[rng.randint(5)], things[rng.randint(6)], adjs[rng.randint(6)]
        out.append("Once upon a time, there was a %s girl named %s. She had a %s. One day, %s "
                   "went to the park with her %s. She was very happy. " % (ad, nm, th, nm, th))
    return "".join(out)


def read_lp(path):
    """A --save-logits file, read from the layout in docs/quality.md."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:8]
    version, mode, n_vocab, n_ctx, stride, bos = struct.unpack_from("<IIIIIi", data, 8)
    n_tok, n_win, n_scored = struct.unpack_from("<QQQ", data, 32)
    ids = np.frombuffer(data, "<i4", n_tok, 56)
    rows = np.frombuffer(data, "<f4", n_scored * n_vocab, 56 + 4 * n_tok).reshape(n_scored, n_vocab)
    return dict(magic=magic, version=version, mode=mode, n_vocab=n_vocab, n_ctx=n_ctx,
                stride=stride, bos=bos, n_tokens=n_tok, n_windows=n_win, n_scored=n_scored,
                ids=ids, rows=rows, size=len(data))


# ---------------------------------------------------------------------------------------------
# The NumPy side: windows as the two methods define them
# ---------------------------------------------------------------------------------------------

def numpy_chunks(feat, weights, ids, n_ctx, bos):
    """llama.cpp: chunks of n_ctx, first token -> BOS, score positions n_ctx/2 .. n_ctx-2."""
    nll, rows = [], []
    for c in range(len(ids) // n_ctx):
        chunk = list(ids[c * n_ctx:(c + 1) * n_ctx])
        chunk[0] = bos
        lp = log_softmax(ref.forward(feat, weights, chunk))
        for j in range(n_ctx // 2, n_ctx - 1):
            target = ids[c * n_ctx + j + 1]
            nll.append(-lp[j, target])
            rows.append(lp[j])
    return np.array(nll), np.array(rows), len(ids) // n_ctx


def numpy_stride(feat, weights, ids, max_length, stride):
    """The perplexity loop of Hugging Face's documentation ("Perplexity of fixed-length
    models"), with labels masked to -100 and shifted as the model's loss does."""
    seq_len = len(ids)
    nll, rows, windows = [], [], 0
    prev_end_loc = 0
    for begin_loc in range(0, seq_len, stride):
        end_loc = min(begin_loc + max_length, seq_len)
        trg_len = end_loc - prev_end_loc
        input_ids = np.array(ids[begin_loc:end_loc])
        target_ids = input_ids.copy()
        target_ids[:-trg_len] = -100
        lp = log_softmax(ref.forward(feat, weights, input_ids))
        windows += 1
        for j in range(len(input_ids) - 1):      # logits j predict label j + 1
            if target_ids[j + 1] != -100:
                nll.append(-lp[j, target_ids[j + 1]])
                rows.append(lp[j])
        prev_end_loc = end_loc
        if end_loc == seq_len:
            break
    return np.array(nll), np.array(rows), windows


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------

def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-30)


def test_perplexity(t, tmp, feat, weights, ids, text_path):
    base = os.path.join(tmp, "base.lp")
    # 1. chunks, llama2.c .bin with its tokenizer
    rc, out, err = run(["tlm-perplexity", "-m", BIN, "-z", TOK, "-f", text_path, "-c", N_CTX,
                        "--save-logits", base] + COMMON)
    got = parse_ppl(out)
    nll, rows, n_chunks = numpy_chunks(feat, weights, ids, N_CTX, BOS)
    ppl, se = ppl_stats(nll)
    print("     chunks: NumPy ppl %.6f +/- %.6f (%d tokens, %d chunks)" % (ppl, se, len(nll), n_chunks))
    if not t.check(rc == 0 and got is not None, "chunks: tlm-perplexity ran (%s)" % last_line(out if rc == 0 else err)):
        return None
    print("     chunks: tool  ppl %.6f +/- %.6f" % got[:2])
    t.check(rel(got[0], ppl) <= 1e-4, "chunks: ppl %.6f = NumPy %.6f (rel %.1e <= 1e-4)" % (got[0], ppl, rel(got[0], ppl)))
    t.check(rel(got[1], se) <= 1e-3, "chunks: +/- %.6f = NumPy %.6f (rel 1e-3)" % (got[1], se))
    t.check(got[2:] == (len(nll), n_chunks), "chunks: %d tokens in %d chunks, as NumPy" % got[2:])
    lp = read_lp(base)
    t.check(lp["magic"] == b"TLMLOGPR" and lp["version"] == 1 and lp["mode"] == 1 and
            lp["n_vocab"] == 512 and lp["n_ctx"] == N_CTX and lp["bos"] == BOS and
            lp["n_windows"] == n_chunks and lp["n_scored"] == len(nll) and
            lp["size"] == 56 + 4 * len(ids) + 4 * 512 * len(nll),
            "chunks: --save-logits header (magic, version, mode, n_vocab, n_ctx, BOS, counts, size)")
    t.check(list(lp["ids"]) == list(ids),
            "chunks: saved token ids (.bin + tok512.bin) = tlm-tokenize's (GGUF vocabulary)")
    d = float(np.abs(lp["rows"] - rows).max()) if lp["rows"].shape == rows.shape else float("inf")
    t.check(d <= 1e-4, "chunks: every saved log-softmax row = NumPy's (max abs %.1e <= 1e-4)" % d)

    # 2. Hugging Face's sliding window, GGUF
    st = os.path.join(tmp, "stride.lp")
    rc, out, err = run(["tlm-perplexity", "-m", GGUF, "-f", text_path, "-c", N_CTX, "--stride",
                        STRIDE, "--save-logits", st] + COMMON)
    got = parse_ppl(out)
    snll, srows, n_win = numpy_stride(feat, weights, ids, N_CTX, STRIDE)
    sppl, sse = ppl_stats(snll)
    print("     stride: NumPy ppl %.6f +/- %.6f (%d tokens, %d windows)" % (sppl, sse, len(snll), n_win))
    if t.check(rc == 0 and got is not None, "stride: tlm-perplexity ran (%s)" % last_line(out if rc == 0 else err)):
        print("     stride: tool  ppl %.6f +/- %.6f" % got[:2])
        t.check(rel(got[0], sppl) <= 1e-4, "stride: ppl %.6f = NumPy %.6f (rel %.1e)" % (got[0], sppl, rel(got[0], sppl)))
        t.check(rel(got[1], sse) <= 1e-3, "stride: +/- %.6f = NumPy %.6f" % (got[1], sse))
        t.check(got[2:] == (len(snll), n_win) and len(snll) == len(ids) - 1,
                "stride: %d tokens (all but the first) in %d windows, as NumPy" % got[2:])
        s = read_lp(st)
        d = float(np.abs(s["rows"] - srows).max()) if s["rows"].shape == srows.shape else float("inf")
        t.check(s["mode"] == 2 and s["stride"] == STRIDE and d <= 1e-4,
                "stride: saved rows = NumPy's (max abs %.1e)" % d)
    return base, lp, nll


def parse_kl(stdout):
    m = re.search(r"KL\(base \|\| this\) = ([0-9.eE+-]+) \+/- ([0-9.eE+-]+), top-1 agreement = "
                  r"([0-9.]+) % \((\d+)/(\d+)\)", stdout)
    b = re.search(r"base ppl = ([0-9.eE+-]+) \+/- ([0-9.eE+-]+)", stdout)
    if not m or not b or parse_ppl(stdout) is None:
        return None
    return dict(kl=float(m.group(1)), kl_se=float(m.group(2)), top1=int(m.group(4)),
                n=int(m.group(5)), base_ppl=float(b.group(1)), ppl=parse_ppl(stdout)[0])


def test_kl(t, tmp, cfg, feat, weights, ids, text_path, base, lp, nll):
    ppl, _ = ppl_stats(nll)
    # against itself (the GGUF holds the .bin's weights)
    rc, out, err = run(["tlm-perplexity", "-m", GGUF, "--kl-divergence", base, "-f", text_path] + COMMON)
    k = parse_kl(out)
    if t.check(rc == 0 and k is not None, "kl self: ran (%s)" % last_line(out if rc == 0 else err)):
        t.check(abs(k["kl"]) <= 1e-9 and k["top1"] == k["n"] == len(nll),
                "kl self: KL %.2e ~ 0, top-1 %d/%d" % (k["kl"], k["top1"], k["n"]))
        t.check(rel(k["ppl"], ppl) <= 1e-4 and rel(k["base_ppl"], ppl) <= 1e-4,
                "kl self: both ppl = NumPy %.6f" % ppl)

    # against Q8_0
    q8 = os.path.join(tmp, "q8.gguf")
    rc, _, err = run(["tlm-quantize", "-m", GGUF, "-o", q8, "--type", "q8_0", "--no-check", "-t", "1"])
    if not t.check(rc == 0, "q8_0: tlm-quantize (%s)" % ("ok" if rc == 0 else last_line(err))):
        return
    rc, out, err = run(["tlm-perplexity", "-m", q8, "--kl-divergence", base] + COMMON)
    k = parse_kl(out)
    q8lp = os.path.join(tmp, "q8.lp")
    rc2, _, err2 = run(["tlm-perplexity", "-m", q8, "-f", text_path, "-c", N_CTX, "--save-logits", q8lp] + COMMON)
    if not t.check(rc == 0 and k is not None and rc2 == 0, "q8_0: --kl-divergence and --save-logits ran (%s)"
                   % last_line(err if rc else err2 if rc2 else out)):
        return
    b, q = lp["rows"].astype(np.float64), read_lp(q8lp)["rows"].astype(np.float64)
    kl = (np.exp(b) * (b - q)).sum(1)
    kl_mean = kl.mean()
    kl_se = math.sqrt(((kl - kl_mean) ** 2).mean() / (len(kl) - 1))
    top1 = int((b.argmax(1) == q.argmax(1)).sum())
    print("     q8_0: tool KL %.6e +/- %.2e, top-1 %d/%d, ppl %.6f (base %.6f)"
          % (k["kl"], k["kl_se"], k["top1"], k["n"], k["ppl"], k["base_ppl"]))
    t.check(rel(k["kl"], kl_mean) <= 1e-5 and rel(k["kl_se"], kl_se) <= 1e-3 and k["top1"] == top1,
            "q8_0: KL %.4e +/- %.2e and top-1 %d = NumPy's from both saved files (%.4e +/- %.2e, %d)"
            % (k["kl"], k["kl_se"], k["top1"], kl_mean, kl_se, top1))
    t.check(kl_mean > 1e-8, "q8_0: it is a different model (KL %.2e > 0)" % kl_mean)
    t.check(rel(k["base_ppl"], ppl) <= 1e-4, "q8_0: base ppl from the file = NumPy %.6f" % ppl)
    # NumPy forward on the dequantized Q8_0 weights, same chunks
    _, raw = tq.read_gguf_raw(q8)
    rcfg = dict(cfg, tie_word_embeddings="output.weight" not in raw)
    qw = mf.gguf_to_hf(rcfg, tq.dequantized(raw))
    qnll, qrows, _ = numpy_chunks(ref.features(rcfg), qw, ids, N_CTX, BOS)
    rkl = float((np.exp(b) * (b - qrows)).sum(1).mean())
    qppl, _ = ppl_stats(qnll)
    print("     q8_0: NumPy on dequantized weights: KL %.6e, ppl %.6f" % (rkl, qppl))
    # The engine's Q8_0 matmul also rounds activations to 8 bits (as llama.cpp does), so its
    # KL is the weights' plus the activations' share. Checked: the engine's Q8_0 distributions
    # are within test_quantize's bound (mean KL 2e-3) of NumPy's on the dequantized weights,
    # and the reported KL lies between the weights' share and that plus the bound.
    d = float((np.exp(qrows) * (qrows - q)).sum(1).mean())
    print("     q8_0: KL(NumPy dequantized || engine Q8_0) %.3e" % d)
    t.check(d <= tq.MAX_ENGINE_VS_REF_KL and rel(k["ppl"], qppl) <= 2e-3,
            "q8_0: engine = NumPy on the dequantized weights (KL %.2e <= %.0e; ppl %.5f ~ %.5f)"
            % (d, tq.MAX_ENGINE_VS_REF_KL, k["ppl"], qppl))
    t.check(0.5 * rkl <= k["kl"] <= rkl + tq.MAX_ENGINE_VS_REF_KL,
            "q8_0: reported KL %.3e within [KL of the weights alone %.3e / 2, + %.0e]"
            % (k["kl"], rkl, tq.MAX_ENGINE_VS_REF_KL))


def bad(t, name, args, want, stdin=None, code=testlib.EXIT_FAILURE):
    """A refusal: exactly exit `code` (2: the command line, 1: the input), a message matching
    `want`."""
    rc, out, err = run(args, stdin)
    ok = testlib.refused(rc, code) and "error" in err and re.search(want, err, re.I) is not None
    t.check(ok, "bad input: %s -> exit %d (want %d), %s" % (name, rc, code, last_line(err)))


def test_bad_perplexity(t, tmp, base, text_path):
    short = os.path.join(tmp, "short.txt")
    with open(short, "w") as f:
        f.write("Once upon a time, there was a little dog.")
    empty = os.path.join(tmp, "empty.txt")
    open(empty, "w").close()
    other = os.path.join(tmp, "other.txt")
    with open(other, "w") as f:
        f.write(story_text(14, 99))
    with open(base, "rb") as f:
        data = f.read()
    trunc, garbage, vocab = (os.path.join(tmp, n) for n in ("trunc.lp", "garbage.lp", "vocab.lp"))
    with open(trunc, "wb") as f:
        f.write(data[:len(data) - 100])
    with open(garbage, "wb") as f:
        f.write(b"GGUF" + bytes(200))
    with open(vocab, "wb") as f:
        f.write(data[:16] + struct.pack("<I", 256) + data[20:])
    P = ["tlm-perplexity", "-m", GGUF, "--no-progress"]
    bad(t, "missing model", ["tlm-perplexity", "-m", os.path.join(tmp, "none.gguf"), "-f", text_path], "none.gguf")
    bad(t, "missing text", P + ["-f", os.path.join(tmp, "none.txt")], "cannot open")
    bad(t, "text shorter than two chunks", P + ["-f", short, "-c", N_CTX], "needs at least 128")
    bad(t, "empty text", P + ["-f", empty, "-c", N_CTX], "needs at least")
    bad(t, "stride longer than the context", P + ["-f", text_path, "-c", N_CTX, "--stride", 65], "stride", code=testlib.EXIT_USAGE)
    bad(t, "-c 0", P + ["-f", text_path, "-c", 0], "-c expects", code=testlib.EXIT_USAGE)
    bad(t, "base made from another text", P + ["-f", other, "--kl-divergence", base], "other tokens")
    bad(t, "base with another -c", P + ["-c", 32, "--kl-divergence", base], "-c 64")
    bad(t, "truncated base", P + ["--kl-divergence", trunc], "truncated")
    bad(t, "garbage base", P + ["--kl-divergence", garbage], "not a tlm-perplexity")
    bad(t, "base of another vocabulary size", P + ["--kl-divergence", vocab], "vocabulary")
    bad(t, "missing base", P + ["--kl-divergence", os.path.join(tmp, "none.lp")], "cannot open")


# ---------------------------------------------------------------------------------------------
# tlm-eval
# ---------------------------------------------------------------------------------------------

ITEMS = [
    {"context": "Once upon a time, there was a little girl named Lily. She liked to play with her",
     "choices": [" ball.", " car.", " elephant."], "label": 0},
    {"context": "Tom was sad because he lost his toy. His mom said, ",
     "choices": ["\"Do not cry, we will find it.\"", "\"The sky is green.\""], "label": 0},
    {"context": "The sun was hot. Lily went to the",
     "choices": [" park", " moon", " sea and swam with a big fish"], "label": 2},
    {"ctx_a": "A girl is playing with a ball in the park.", "ctx_b": "then, she",
     "activity_label": "Playing ball", "endings": ["throws the ball to her dog.",
                                                   "eats a [title] big cake.", "runs home  to mom.",
                                                   "sleeps [in the] tree."], "label": "0"},
    {"ctx": "Tom and Ben went to the shop. They wanted to buy", "endings":
     ["a toy car.", "the moon.", "some candy for mom."], "label": 2},
    {"question": "  What did Lily like to play with?  ", "choices": ["a ball", "a car", "a dog", "a tree"],
     "answer": "A"},
    {"question": "Who went to the park?", "choices": ["Tom", "Lily", "Ben", "Sue"], "answer": 1,
     "subject": "tiny_stories"},
    {"context": "One day, a big dog saw a cat. The dog wanted to",
     "choices": [" play.", " fly to the stars.", " sing."], "label": 0},
]


def hs_preprocess(text):
    """lm-evaluation-harness tasks/hellaswag/utils.py preprocess()."""
    text = text.strip()
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    return text.replace("  ", " ")


def item_text(doc):
    """(context, [continuations], [choice lengths], label) as lm-evaluation-harness builds them."""
    if "endings" in doc:
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize() if "ctx_a" in doc else doc["ctx"]
        if "activity_label" in doc:
            ctx = doc["activity_label"] + ": " + ctx
        ends = [hs_preprocess(e) for e in doc["endings"]]
        return hs_preprocess(ctx), [" " + e for e in ends], [len(e) for e in ends], int(doc["label"])
    if "question" in doc:
        ctx = doc["question"].strip() + "".join("\n%s. %s" % ("ABCD"[i], c) for i, c in enumerate(doc["choices"])) + "\nAnswer:"
        if "subject" in doc:
            ctx = "The following are multiple choice questions (with answers) about %s.\n\n" % doc["subject"].replace("_", " ") + ctx
        a = doc["answer"]
        return ctx, [" A", " B", " C", " D"], [1, 1, 1, 1], "ABCD".index(a) if isinstance(a, str) else a
    return doc["context"], doc["choices"], [len(c) for c in doc["choices"]], doc["label"]


def numpy_eval(feat, weights):
    """Per item: log-likelihood and token count of each choice (lm-eval's _encode_pair:
    trailing context whitespace moves to the continuation; the continuation's tokens are those
    of context+continuation after the context's count), picks, and the item's label."""
    pairs, texts = [], []
    for doc in ITEMS:
        ctx, conts, lens, label = item_text(doc)
        n_sp = len(ctx) - len(ctx.rstrip())
        if n_sp:
            conts = [ctx[-n_sp:] + c for c in conts]
            ctx = ctx[:-n_sp]
        pairs.append((ctx, conts, lens, label))
        texts.append(ctx)
        texts += [ctx + c for c in conts]
    enc = iter(tokenize(texts, bos=True))
    res = []
    for ctx, conts, lens, label in pairs:
        c_ids = next(enc)
        lls, ntok = [], []
        for _ in conts:
            whole = next(enc)
            cont = whole[len(c_ids):]
            lp = log_softmax(ref.forward(feat, weights, c_ids + cont))
            lls.append(float(sum(lp[len(c_ids) - 1 + k, tok] for k, tok in enumerate(cont))))
            ntok.append(len(cont))
        norm = [ll / n for ll, n in zip(lls, lens)]
        res.append(dict(ll=lls, n_tokens=ntok, pred=int(np.argmax(lls)), pred_norm=int(np.argmax(norm)),
                        label=label))
    return res


def parse_acc(stdout):
    m = re.search(r"^acc = ([0-9.]+) \+/- ([0-9.]+), acc_norm = ([0-9.]+) \+/- ([0-9.]+) \((\d+) items, (\d+) skipped\)$",
                  stdout.strip().splitlines()[-1] if stdout.strip() else "")
    return tuple(float(g) for g in m.groups()) if m else None


def test_eval(t, tmp, feat, weights):
    items = os.path.join(tmp, "items.jsonl")
    with open(items, "w") as f:
        for doc in ITEMS:
            f.write(json.dumps(doc) + "\n")
        f.write("\n")                                   # blank lines are not items
    out = os.path.join(tmp, "items.out.jsonl")
    rc, stdout, err = run(["tlm-eval", "-m", BIN, "-z", TOK, "-f", items, "--jsonl-out", out] + COMMON)
    want = numpy_eval(feat, weights)
    acc = sum(r["pred"] == r["label"] for r in want) / len(want)
    acc_n = sum(r["pred_norm"] == r["label"] for r in want) / len(want)
    se = lambda p: math.sqrt(p * (1 - p) / (len(want) - 1))  # noqa: E731
    print("     eval: NumPy acc %.4f +/- %.4f, acc_norm %.4f +/- %.4f (%d items)"
          % (acc, se(acc), acc_n, se(acc_n), len(want)))
    got = parse_acc(stdout)
    if not t.check(rc == 0 and got is not None, "eval: tlm-eval ran (%s)" % last_line(stdout if rc == 0 else err)):
        return
    print("     eval: tool  %s" % last_line(stdout))
    with open(out) as f:
        rows = [json.loads(ln) for ln in f]
    t.check(len(rows) == len(want), "eval: --jsonl-out has one line per item (%d)" % len(rows))
    worst, same_tokens, same_picks = 0.0, True, True
    for r, w in zip(rows, want):
        worst = max(worst, max(abs(a - b) for a, b in zip(r["ll"], w["ll"])))
        same_tokens &= r["n_tokens"] == w["n_tokens"]
        same_picks &= (r["pred"], r["pred_norm"], r["label"]) == (w["pred"], w["pred_norm"], w["label"])
    t.check(worst <= 1e-3, "eval: every choice's log-likelihood = NumPy's (max abs %.1e <= 1e-3)" % worst)
    t.check(same_tokens, "eval: every choice's token count = NumPy's (lm-eval boundary)")
    t.check(same_picks, "eval: every label, pick and normalised pick = NumPy's")
    t.check(got[0] == round(acc, 6) and got[2] == round(acc_n, 6) and got[4:] == (len(want), 0),
            "eval: acc %.6f, acc_norm %.6f exactly as NumPy" % (got[0], got[2]))
    t.check(abs(got[1] - se(acc)) <= 1e-6 and abs(got[3] - se(acc_n)) <= 1e-6,
            "eval: +/- = sqrt(p (1 - p) / (n - 1))")
    out2 = os.path.join(tmp, "items.b2.jsonl")
    rc, stdout, err = run(["tlm-eval", "-m", GGUF, "-f", items, "-b", 2, "--jsonl-out", out2] + COMMON)
    if t.check(rc == 0, "eval -b 2 (choices evaluated 2 tokens at a time, GGUF) ran"):
        with open(out2) as f:
            rows2 = [json.loads(ln) for ln in f]
        d = max(abs(a - b) for r, w in zip(rows2, want) for a, b in zip(r["ll"], w["ll"]))
        t.check(len(rows2) == len(want) and d <= 1e-3,
                "eval -b 2: log-likelihoods = NumPy's (max abs %.1e)" % d)
    rc, stdout, err = run(["tlm-eval", "-m", GGUF, "-f", items, "--limit", 3] + COMMON)
    got = parse_acc(stdout)
    t.check(rc == 0 and got is not None and got[4] == 3 and
            got[0] == round(sum(r["pred"] == r["label"] for r in want[:3]) / 3, 6),
            "eval: --limit 3 scores the first 3 items (GGUF)")

    # malformed lines: reported with their number; fail by default, skipped with --skip-bad
    badf = os.path.join(tmp, "bad.jsonl")
    lines = [json.dumps(ITEMS[0]), '{"context": "x", "choices": [" a", " b"', json.dumps(ITEMS[2]),
             json.dumps(dict(ITEMS[0], label=7)), json.dumps({"foo": 1}), "[1, 2]",
             json.dumps({"question": "q?", "choices": ["a", "b"], "answer": "Z"})]
    with open(badf, "w") as f:
        f.write("\n".join(lines) + "\n")
    bad(t, "malformed JSONL line (default: fail)", ["tlm-eval", "-m", GGUF, "-f", badf] + COMMON, r"bad\.jsonl:2:")
    rc, stdout, err = run(["tlm-eval", "-m", GGUF, "-f", badf, "--skip-bad"] + COMMON)
    got = parse_acc(stdout)
    reported = all(re.search(r"bad\.jsonl:%d:" % n, err) for n in (2, 4, 5, 6, 7))
    t.check(rc == 0 and got is not None and got[4:] == (2, 5) and reported,
            "eval --skip-bad: 2 items scored, lines 2, 4, 5, 6, 7 reported and skipped (%s)" % last_line(stdout or err))
    allbad = os.path.join(tmp, "allbad.jsonl")
    with open(allbad, "w") as f:
        f.write("{\n\x00\xff\n")
    bad(t, "only malformed lines with --skip-bad", ["tlm-eval", "-m", GGUF, "-f", allbad, "--skip-bad"] + COMMON,
        "no item")
    bad(t, "missing JSONL", ["tlm-eval", "-m", GGUF, "-f", os.path.join(tmp, "none.jsonl")], "cannot open")
    bad(t, "--format bogus", ["tlm-eval", "-m", GGUF, "-f", items, "--format", "bogus"], "--format", code=testlib.EXIT_USAGE)
    bad(t, "forced layout that does not fit", ["tlm-eval", "-m", GGUF, "-f", items, "--format", "mmlu"] + COMMON,
        "question")


N_CASES = 50  # the checks main() makes with stories260K present


def main():
    start = time.time()
    t = selfcheck.Tally()
    real = selfcheck.stories260k()
    if real is None:
        testlib.missing("stories260K under %s" % MODELS, N_CASES)
        return testlib.finish("quality", t.passed, t.failed)
    cfg, weights = real
    feat = ref.features(cfg)
    tmp = tempfile.mkdtemp(prefix="tlm-quality-")
    try:
        text_path = os.path.join(tmp, "stories.txt")
        text = story_text(14, 3)
        with open(text_path, "w") as f:
            f.write(text)
        ids = tokenize([text], bos=True)[0]
        print("     text: %d bytes, %d tokens" % (len(text), len(ids)))
        r = test_perplexity(t, tmp, feat, weights, ids, text_path)
        if r is not None:
            test_kl(t, tmp, cfg, feat, weights, ids, text_path, *r)
            test_bad_perplexity(t, tmp, r[0], text_path)
        test_eval(t, tmp, feat, weights)
    except Exception as e:  # a harness error is a failure, not a crash without a result line
        t.check(False, "test harness: %s: %s" % (type(e).__name__, e))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("(%.1f s)" % (time.time() - start))
    return testlib.finish("quality", t.passed, t.failed)


if __name__ == "__main__":
    sys.exit(main())
