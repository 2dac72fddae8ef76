"""tlm-tokenize's output formats, as users and scripts see them: --ids prints the ids on one
line without BOS unless --bos; the default prints one id and quoted piece per line; --decode
streams ids back to text; --template names the model's chat template; errors exit 1 (a file
that cannot be read, an id out of range) with a message, and never with a crash or a
sanitizer report (testlib)."""
import os
import random
import subprocess
import sys

import testlib

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
TOOL = os.path.join(BUILD, "tlm-tokenize")
LLAMA = os.path.join(SHARED, "vocab", "llamacpp", "ggml-vocab-llama-spm.gguf")
QWEN2 = os.path.join(SHARED, "vocab", "qwen2")
SPMODEL = os.path.join(SHARED, "vocab", "llama2", "tokenizer.model")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def run(*args):
    res = subprocess.run([TOOL] + list(args), capture_output=True, timeout=120)
    return res.returncode, res.stdout.decode("utf-8", errors="replace"), res.stderr.decode(errors="replace")


def main():
    if not os.path.exists(TOOL) or not os.path.exists(LLAMA) or not os.path.exists(QWEN2):
        testlib.missing("%s or the vocabularies under %s" % (TOOL, SHARED), N_CASES)
        return
    rc, out, _ = run("--vocab", LLAMA, "--ids", "Hello world")
    check("--ids: one line, no BOS", rc == 0 and out == "15043 3186\n", repr(out))
    rc, out, _ = run("-m", LLAMA, "--ids", "--bos", "Hello world")
    check("--ids --bos", rc == 0 and out == "1 15043 3186\n", repr(out))
    rc, out, _ = run("-m", LLAMA, "Hello world")
    lines = out.splitlines()
    check("pieces: one line per token, id and quoted piece (SentencePiece's dummy space shown)",
          rc == 0 and len(lines) == 2 and lines[0].split(None, 1) == ["15043", '" Hello"']
          and lines[1].split(None, 1) == ["3186", '" world"'], repr(out))
    rc, out, _ = run("--vocab", LLAMA, "--decode", "15043 3186")
    check("--decode drops the dummy space as SentencePiece does", rc == 0 and out == "Hello world\n",
          repr(out))
    rc, out, _ = run("--vocab", QWEN2, "--ids", "--special", "<|im_start|>user")
    check("--special", rc == 0 and out.split()[0] == "151644", repr(out))
    rc, out, _ = run("--vocab", QWEN2, "--ids", "--no-special", "<|im_start|>")
    check("--no-special: a marker is text", rc == 0 and "151644" not in out.split(), repr(out))
    # The default follows the vocabulary's own library: Hugging Face's tokenizer(text) and
    # llama-tokenize match control-token text; sentencepiece (a tokenizer.model) does not.
    rc, out, _ = run("--vocab", QWEN2, "--ids", "<|im_start|>")
    check("default on vocab.json + merges.txt: a marker is matched, as tokenizer(text) does",
          rc == 0 and out.split() == ["151644"], repr(out))
    rc, out, _ = run("--vocab", LLAMA, "--ids", "<s>a")
    check("default on a GGUF vocabulary: <s> is matched, as llama-tokenize does",
          rc == 0 and out.split()[:1] == ["1"], repr(out))
    rc, out, _ = run("--vocab", SPMODEL, "--ids", "<s>a")
    check("default on tokenizer.model: <s> is text, as sentencepiece encodes it",
          rc == 0 and "1" not in out.split() and len(out.split()) > 1, repr(out))
    rc, out, _ = run("--vocab", SPMODEL, "--ids", "--special", "<s>a")
    check("--special on tokenizer.model: <s> is matched", rc == 0 and out.split()[:1] == ["1"],
          repr(out))
    rc, ids, _ = run("--vocab", QWEN2, "--ids", "naïve 🦙 ok")
    rc2, text, _ = run("--vocab", QWEN2, "--decode", ids.strip())
    check("--decode of --ids gives the text back", rc == 0 and rc2 == 0 and text == "naïve 🦙 ok\n",
          repr(text))
    # Streaming decode = Python's bytes.decode("utf-8", errors="replace") of all the bytes,
    # for random byte strings with ill-formed UTF-8 (GPT-2 keeps every byte).
    gpt2 = os.path.join(SHARED, "vocab", "llamacpp", "ggml-vocab-gpt-2.gguf")
    rng = random.Random(5)
    atoms = [b"a", b" ", b"\xff", b"\x80", b"\xe2\x96", b"\xf0\x9f\xa6\x99", b"\xf0\x9f",
             b"\xc3", b"\xc3\xa9", b"\xed\xa0\x80", b"\xe0\x80", b"\xf4\x90", b"\xe4\xbd\xa0"]
    strings = [b"".join(rng.choice(atoms) for _ in range(rng.randint(1, 12))) for _ in range(80)]
    res = subprocess.run([TOOL, "--vocab", gpt2, "--hex-lines"], capture_output=True, timeout=120,
                         input="".join(x.hex() + "\n" for x in strings).encode())
    id_lines = res.stdout.decode().split("\n")
    bad = 0
    for x, ids in zip(strings, id_lines):
        rc, out, _ = run("--vocab", gpt2, "--decode", ids)
        if rc != 0 or out != x.decode("utf-8", errors="replace") + "\n":
            bad += 1
    check("--decode of 80 ill-formed byte strings = Python's errors='replace'",
          res.returncode == 0 and bad == 0, "%d differ" % bad)
    rc, out, _ = run("--vocab", QWEN2, "--template")
    check("--template", rc == 0 and out == "chatml\n", repr(out))
    rc, _, err = run("--vocab", os.path.join(SHARED, "no-such-file"), "x")
    check("a missing vocabulary fails (exit 1) with a message",
          testlib.refused(rc, testlib.EXIT_FAILURE) and "no-such-file" in err, "exit %d: %s" % (rc, err.strip()))
    rc, _, err = run("--vocab", QWEN2, "--decode", "99999999")
    check("an id out of range fails (exit 1) with a message",
          testlib.refused(rc, testlib.EXIT_FAILURE) and "99999999" in err, "exit %d: %s" % (rc, err.strip()))


N_CASES = 15  # the checks main() makes

main()
sys.exit(testlib.finish("tokenizer_cli", passed, failed))
