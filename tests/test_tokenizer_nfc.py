"""Qwen's NFC normalisation against Python's unicodedata: strings rich in combining marks,
Hangul jamo and precomposed letters are encoded by libtinylm (Qwen2 vocabulary and Qwen v1's
qwen.tiktoken) as given, after NFD and after NFC (both by Python); all three must give the ids
of the NFC form, since the tokenizer normalises to NFC first."""
import os
import random
import subprocess
import sys
import unicodedata

import testlib

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
TOOL = os.path.join(BUILD, "tlm-tokenize")
VOCABS = [os.path.join(SHARED, "vocab", "qwen2"), os.path.join(SHARED, "vocab", "qwen", "qwen.tiktoken")]

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def make_strings(n):
    rng = random.Random(77)
    pool = [cp for cp in range(0xC0, 0x2000)
            if unicodedata.decomposition(chr(cp)) and not unicodedata.decomposition(chr(cp)).startswith("<")]
    pool += list(range(0x300, 0x370)) + list(range(0x1100, 0x1113)) + list(range(0x1161, 0x1176))
    pool += list(range(0x11A8, 0x11C3)) + [0xAC00, 0xD4DB, 0x0958, 0x1F82, 0x0344, 0x212B, 0x2126]
    words = ["Cafe\u0301", "re\u0301sume\u0301", "\u1112\u1161\u11ab", "Ångström", "naïve", "x"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.3:
                parts.append(rng.choice(words))
            else:
                parts.append("".join(chr(rng.choice(pool)) for _ in range(rng.randint(1, 5))))
            parts.append(rng.choice([" ", "", "\n", ", "]))
        out.append("".join(parts))
    return out


def ids(vocab, strings):
    inp = "".join(s.encode().hex() + "\n" for s in strings).encode()
    res = subprocess.run([TOOL, "--vocab", vocab, "--hex-lines"], input=inp, capture_output=True,
                         timeout=600)
    if res.returncode != 0:
        return None
    return res.stdout.decode().split("\n")[:len(strings)]


def main():
    if not os.path.exists(TOOL):
        testlib.missing(TOOL, 1 + 2 * len(VOCABS))
        return
    strings = make_strings(400)
    changed = sum(1 for s in strings if unicodedata.normalize("NFC", s) != s)
    check("most strings are not NFC", changed > 200, str(changed))
    for vocab in VOCABS:
        if not os.path.exists(vocab):
            testlib.missing(vocab, 2)
            continue
        name = os.path.basename(vocab)
        a = ids(vocab, strings)
        b = ids(vocab, [unicodedata.normalize("NFD", s) for s in strings])
        c = ids(vocab, [unicodedata.normalize("NFC", s) for s in strings])
        check(name + ": tlm-tokenize runs", a is not None and b is not None and c is not None)
        if a is None or b is None or c is None:
            continue
        bad = [i for i in range(len(strings)) if not (a[i] == b[i] == c[i])]
        for i in bad[:3]:
            print("  %r\n    as given %s\n    NFD      %s\n    NFC      %s" % (strings[i], a[i], b[i], c[i]))
        check("%s: %d strings as given, NFD and NFC encode alike" % (name, len(strings)), not bad,
              "%d differ" % len(bad))


main()
sys.exit(testlib.finish("tokenizer_nfc", passed, failed))
