"""SentencePiece parity: strings generated here with a fixed seed (Unicode from many scripts,
whitespace runs, code, emoji sequences, ill-formed UTF-8 bytes) are encoded by libtinylm
(tlm-tokenize --hex-lines) and by Debian's python3-sentencepiece on the same
../shared/vocab/llama2/tokenizer.model; the ids must be identical. Nothing is checked in: both
sides run every time. The same strings also go through the Llama-2 vocab GGUF, which must
agree with SentencePiece too.

SentencePiece takes bytes, and reads each byte of ill-formed UTF-8 as U+FFFD; libtinylm does
the same for SentencePiece vocabularies. NUL bytes are left out (C strings)."""
import os
import random
import subprocess
import sys

import testlib

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MODEL = os.path.join(SHARED, "vocab", "llama2", "tokenizer.model")
GGUF = os.path.join(SHARED, "vocab", "llamacpp", "ggml-vocab-llama-spm.gguf")
TOOL = os.path.join(BUILD, "tlm-tokenize")
N_STRINGS = 600

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


# Code point ranges to draw characters from: scripts, symbols, marks, emoji, odd spaces.
RANGES = [
    (0x20, 0x7E), (0xA0, 0x17F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF),
    (0x590, 0x5FF), (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF),
    (0x2000, 0x206F), (0x2190, 0x23FF), (0x2500, 0x25FF), (0x2580, 0x2582), (0x3040, 0x30FF),
    (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xFF00, 0xFFEF), (0xFFF0, 0xFFFD),
    (0x1F300, 0x1F6FF), (0x1F900, 0x1F9FF), (0x10000, 0x1007F), (0xE000, 0xE0FF),
]
WORDS = ["the", "Hello", "world", "tokenizer", "über", "naïve", "東京", "Привет", "مرحبا",
         "नमस्ते", "สวัสดี", "ok", "I'm", "don't", "3.14159", "1e-9", "2024", "__init__", "x"]
CODE = ["int main(void) {\n    return 0;\n}\n", "def f(x):\n\tif x:\n\t\treturn [x * 2]\n",
        "for (i = 0; i < n; i++) a[i] += b[i];", "  # comment\n    pass\n",
        "SELECT * FROM t WHERE id = 'x';", "<div class=\"a\">&nbsp;</div>", "λx. x + 1",
        "if (a != b && c >= d) { /* ok */ }", "print(f\"{x!r:>10}\")"]
EMOJI = ["\U0001F999", "\U0001F469\u200D\U0001F4BB", "\U0001F44D\U0001F3FD", "\u2764\uFE0F",
         "\U0001F1EF\U0001F1F5", "\U0001F636\u200D\U0001F32B\uFE0F", "\u263A", "\U0001F600"]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\r\n", "\u00A0", "\u3000", "\u2009",
          "          "]
BAD = [b"\xff", b"\x80", b"\xc3", b"\xe2\x96", b"\xf0\x9f\xa6", b"\xed\xa0\x80", b"\xc0\xaf",
       b"\xf4\x90\x80\x80", b"\xfe\xfe", b"\xe0\x80\x80", b"\xbf"]


def random_char(rng):
    lo, hi = rng.choice(RANGES)
    cp = rng.randint(lo, hi)
    return "" if 0xD800 <= cp <= 0xDFFF else chr(cp)


def make_strings():
    rng = random.Random(20240607)
    out = [b"", b" ", b"a", b"  leading", b"trailing  ", b"\xe2\x96\x81", b"\xef\xbf\xbd"]
    while len(out) < N_STRINGS:
        kind = len(out) % 6
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if kind == 0 or r < 0.25:
                parts.append("".join(random_char(rng) for _ in range(rng.randint(1, 6))).encode())
            elif kind == 1 or r < 0.4:
                parts.append(rng.choice(SPACES).encode())
            elif kind == 2 or r < 0.55:
                parts.append(rng.choice(CODE).encode())
            elif kind == 3 or r < 0.7:
                parts.append(rng.choice(EMOJI).encode())
            elif kind == 4 or r < 0.85:
                parts.append(rng.choice(BAD))
            else:
                parts.append(rng.choice(WORDS).encode())
            if rng.random() < 0.5:
                parts.append(rng.choice(SPACES).encode())
        out.append(b"".join(parts).replace(b"\x00", b""))
    return out


def engine_ids(vocab, strings):
    inp = "".join(s.hex() + "\n" for s in strings).encode()
    res = subprocess.run([TOOL, "--vocab", vocab, "--hex-lines"], input=inp, capture_output=True,
                         timeout=600)
    if res.returncode != 0:
        return None, res.stderr.decode(errors="replace")
    lines = res.stdout.decode().split("\n")
    return [[int(x) for x in line.split()] for line in lines[:len(strings)]], ""


def compare(label, vocab, strings, want):
    got, err = engine_ids(vocab, strings)
    check(label + ": tlm-tokenize runs", got is not None, err.strip()[:200])
    if got is None:
        return
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    for i in bad[:5]:
        print("  string %d %r\n    sentencepiece %s\n    libtinylm     %s" %
              (i, strings[i][:60], want[i][:30], got[i][:30]))
    check("%s: %d strings encode as SentencePiece does" % (label, len(strings)),
          not bad and len(got) == len(strings), "%d differ" % len(bad))


def main():
    try:
        import sentencepiece as spm
    except ImportError:
        testlib.missing("python3-sentencepiece", 5)
        return
    if not os.path.exists(MODEL) or not os.path.exists(TOOL):
        testlib.missing("%s or %s" % (MODEL, TOOL), 5)
        return
    sp = spm.SentencePieceProcessor(model_file=MODEL)
    strings = make_strings()
    want = [sp.encode(s) for s in strings]
    def ill_formed(s):
        try:
            s.decode("utf-8")
            return False
        except UnicodeDecodeError:
            return True
    n_bad = sum(1 for s in strings if ill_formed(s))
    print("%d strings, %d with ill-formed UTF-8, %d ids in all" %
          (len(strings), n_bad, sum(len(w) for w in want)))
    check("the strings include ill-formed UTF-8", n_bad >= 50, str(n_bad))
    compare("tokenizer.model", MODEL, strings, want)
    if os.path.exists(GGUF):
        compare("ggml-vocab-llama-spm.gguf", GGUF, strings, want)
    else:
        testlib.missing(GGUF, 2)


main()
sys.exit(testlib.finish("tokenizer_spm", passed, failed))
