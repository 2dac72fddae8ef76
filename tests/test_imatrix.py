"""test_imatrix.py - `tlm-perplexity --imatrix-out` against the NumPy reference model.

For presets covering every way a block's matrices are named (separate q/k/v and gate/up:
tinyllama; fused qkv and [gate|up]: phi3; a plain MLP with a parallel residual: phi2; a block
applied twice: mobilellm_ls) the test writes an F32 GGUF the way llama.cpp's converter does
(tests/ref/model_files.py), runs tlm-perplexity over a text in chunks with --imatrix-out, and
reads the .dat file with its own reader (llama.cpp's imatrix layout). The expected values come
from tests/ref/model_ref.py: every input of every linear layer over the same chunks (each
chunk's first token replaced by BOS, as llama.cpp's imatrix does), mean of x^2 per input
column, times the number of chunks. Each entry must name a tensor of the GGUF file; the LM
head appears only with --process-output. The file must then change what `tlm-quantize
--imatrix` writes (IQ4_NL uses the weights) and the result must load. Bad flag combinations are
usage errors. Last line: "test_imatrix: N passed, M failed, K skipped".
"""
import os
import shlex
import struct
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(HERE, "ref"))
sys.path.insert(0, HERE)

import model_files as mf        # noqa: E402
import model_ref as ref         # noqa: E402
import presets                  # noqa: E402
import testlib                  # noqa: E402

BUILD = os.environ.get("TLM_BUILD", os.path.join(HERE, "..", "build"))
RUN_PREFIX = shlex.split(os.environ.get("TLM_RUN", ""))
TOKENIZER = os.path.join(HERE, "..", "..", "shared", "models", "stories260K.gguf")  # its 512-id vocabulary
N_CTX, N_CHUNKS, BOS = 24, 3, 1
REL_TOL = 1e-5                  # float32 engine vs float32 reference, per entry (measured 6e-7)
CASES = [("tinyllama", False), ("phi3", False), ("phi2", True), ("mobilellm_ls", False)]
TEXT = ("Once upon a time there was a little girl named Lily. She liked to play in the park "
        "with her dog. One day the sun was hot and the sky was blue, so they went to the lake. "
        "Lily saw a big fish jump out of the water and laughed. Her dog barked at the fish. ")


class T:
    passed = failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL " + what)
        return ok


def run(args, **kw):
    return subprocess.run(RUN_PREFIX + args, capture_output=True, text=True, timeout=600, **kw)


def read_imatrix(path):
    """{name: (ncall, values)}, chunk count, text name; raises on any malformed byte."""
    b = open(path, "rb").read()
    at = 0

    def i32():
        nonlocal at
        if at + 4 > len(b):
            raise ValueError("truncated at %d" % at)
        v = struct.unpack_from("<i", b, at)[0]
        at += 4
        return v

    entries = {}
    for _ in range(i32()):
        n = i32()
        name = b[at:at + n].decode()
        at += n
        ncall, nval = i32(), i32()
        entries[name] = (ncall, np.frombuffer(b, "<f4", nval, at).astype(np.float64))
        at += 4 * nval
    chunks, n = i32(), i32()
    text = b[at:at + n].decode()
    at += n
    if at != len(b):
        raise ValueError("%d bytes after the end" % (len(b) - at))
    return entries, chunks, text


def reference_inputs(feat, weights, chunks, with_head):
    """{GGUF name: [inputs]}: every linear layer's input over the chunks, by call order."""
    seen = []
    real_linear = ref.linear

    def spy(x, w, b=None):
        seen.append(np.asarray(x, np.float64))
        return real_linear(x, w, b)

    ref.linear = spy
    try:
        out = {}
        for toks in chunks:
            seen.clear()
            ref.forward(feat, weights, toks)
            per_block = 7 if feat.mlp_gated else 6   # q k v o (gate) up down
            for a in range(feat.n_apply()):
                calls = seen[a * per_block:(a + 1) * per_block]
                names = [("attn_q", 0), ("attn_k", 1), ("attn_v", 2), ("attn_qkv", 0),
                         ("attn_output", 3), ("ffn_gate", 4), ("ffn_up", 4),
                         ("ffn_down", per_block - 1)]
                for role, i in names:
                    out.setdefault("blk.%d.%s.weight" % (a, role), []).append(calls[i])
            if with_head:
                out.setdefault("output.weight", []).append(seen[-1])
        return out
    finally:
        ref.linear = real_linear


def one_case(t, d, name, with_head, text_path, tokens):
    cfg = dict(presets.SMALL[name], vocab_size=512)   # the vocabulary.s ids must be in range
    feat = ref.features(cfg)
    weights = mf.random_weights(cfg, seed=7)
    gguf = os.path.join(d, name + ".gguf")
    mf.write_gguf(gguf, cfg, weights, "F32", name="tlm-test-" + name)
    tensors = set(mf.read_gguf(gguf)[1])
    out = os.path.join(d, name + ".dat")
    args = [os.path.join(BUILD, "tlm-perplexity"), "-m", gguf, "-z", TOKENIZER, "-f", text_path,
            "-c", str(N_CTX), "--chunks", str(N_CHUNKS), "--imatrix-out", out, "-t", "2",
            "--no-progress", "--kv-type", "f32"]   # the reference keeps K/V in float32
    if with_head:
        args.append("--process-output")
    r = run(args)
    if not t.check(r.returncode == 0, "%s: tlm-perplexity exit %d: %s" %
                   (name, r.returncode, r.stderr.strip()[-300:])):
        return None
    try:
        entries, chunks, text = read_imatrix(out)
    except (ValueError, UnicodeDecodeError, struct.error) as e:
        t.check(False, "%s: %s: %s" % (name, out, e))
        return None
    t.check(chunks == N_CHUNKS and text == text_path,
            "%s: trailer says %d chunks of %r" % (name, chunks, text))
    chunk_toks = []
    for c in range(N_CHUNKS):
        toks = list(tokens[c * N_CTX:(c + 1) * N_CTX])
        toks[0] = BOS
        chunk_toks.append(toks)
    want = reference_inputs(feat, weights, chunk_toks, with_head)
    t.check(all(k in tensors for k in entries),
            "%s: entries that are no tensor of the file: %s" %
            (name, sorted(k for k in entries if k not in tensors)))
    expected_names = {k for k in want if k in tensors and (k.startswith("blk.") or with_head)}
    t.check(set(entries) == expected_names, "%s: entries %s, expected %s" %
            (name, sorted(set(entries) ^ expected_names), "symmetric difference"))
    t.check(("output.weight" in entries) == with_head,
            "%s: output.weight present %s with --process-output %s" %
            (name, "output.weight" in entries, with_head))
    worst = 0.0
    for k in sorted(expected_names & set(entries)):
        ncall, got = entries[k]
        x = np.concatenate(want[k])
        exp = np.mean(x * x, axis=0) * N_CHUNKS
        ok = ncall == N_CHUNKS and got.shape == exp.shape
        rel = float(np.max(np.abs(got - exp)) / np.max(np.abs(exp))) if ok else float("inf")
        worst = max(worst, rel)
        t.check(ok and rel <= REL_TOL, "%s: %s ncall %d width %s rel %.2e" %
                (name, k, ncall, got.shape, rel))
    print("  %s: %d entries, worst relative difference %.2e" % (name, len(entries), worst))
    return gguf, out


def quantize_uses_it(t, d, gguf, dat):
    """IQ4_NL's quantizer weighs its error by the matrix; the file must change the result."""
    outs = []
    for extra in ([], ["--imatrix", dat]):
        o = os.path.join(d, "q%d.gguf" % len(outs))
        r = run([os.path.join(BUILD, "tlm-quantize"), "-m", gguf, "-o", o, "--type", "iq4_nl",
                 "--no-check"] + extra)
        t.check(r.returncode == 0, "tlm-quantize %s: exit %d: %s" %
                (" ".join(extra), r.returncode, r.stderr.strip()[-300:]))
        outs.append(o)
    if all(os.path.exists(o) for o in outs):
        t.check(open(outs[0], "rb").read() != open(outs[1], "rb").read(),
                "--imatrix did not change the IQ4_NL file")
        r = run([os.path.join(BUILD, "tlm-logits"), "-m", outs[1], "--tokens", "1,2,3",
                 "-o", os.path.join(d, "l.f32")])
        t.check(r.returncode == 0, "the imatrix-quantized file does not load: %s" %
                r.stderr.strip()[-300:])


def main():
    t = T()
    skipped = 0
    if not os.path.exists(TOKENIZER):
        testlib.missing("stories260K.gguf (../shared/models)", len(CASES))
        testlib.finish("imatrix", t.passed, t.failed, skipped)
        return
    with tempfile.TemporaryDirectory(prefix="tlm_imatrix_") as d:
        text_path = os.path.join(d, "calibration.txt")
        with open(text_path, "w") as f:
            f.write(TEXT * 3)
        r = run([os.path.join(BUILD, "tlm-tokenize"), "-m", TOKENIZER, "--ids", "--bos",
                 TEXT * 3])
        if not t.check(r.returncode == 0, "tlm-tokenize: %s" % r.stderr.strip()):
            testlib.finish("imatrix", t.passed, t.failed, skipped)
            return
        tokens = [int(x) for x in r.stdout.split()]
        t.check(len(tokens) >= N_CTX * N_CHUNKS, "the text has only %d tokens" % len(tokens))
        made = None
        for name, with_head in CASES:
            got = one_case(t, d, name, with_head, text_path, tokens)
            made = made or got
        if made:
            quantize_uses_it(t, d, *made)
        perp = os.path.join(BUILD, "tlm-perplexity")
        for bad in (["--imatrix-out", "x.dat", "--stride", "8"], ["--process-output"]):
            r = run([perp, "-m", made[0] if made else "x", "-z", TOKENIZER, "-f", text_path] +
                    bad)
            t.check(testlib.refused(r.returncode, testlib.EXIT_USAGE),
                    "%s: exit %d, expected a usage error" % (" ".join(bad), r.returncode))
    testlib.finish("imatrix", t.passed, t.failed, skipped)


if __name__ == "__main__":
    main()
