"""examples/: each program, built against the shared library, run on stories260K and checked
against expectations that do not come from the example itself: the reference greedy text
(../shared/models/stories260K.greedy200.txt), the zephyr template as docs/chat-templates.md
writes it, tlm-generate's replies to the same conversation, tlm-logits' logits against the
hidden states times the embedding table read from the .bin file (embeddings), and the statuses
of a cancelled evaluation and of the one that goes on from it (cancel)."""
import os
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MODELS = os.path.join(SHARED, "models")
BIN = os.path.join(MODELS, "stories260K.bin")
GGUF = os.path.join(MODELS, "stories260K.gguf")
TOK = os.path.join(MODELS, "tok512.bin")

passed = failed = skipped = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def run(prog, args, stdin=None, env=None, timeout=120):
    if not os.path.exists(os.path.join(BUILD, prog)):
        return 127, "", "%s is not built" % prog
    full = dict(os.environ)
    full.update(env or {})
    p = subprocess.run([os.path.join(BUILD, prog)] + args, input=stdin, capture_output=True,
                       env=full, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def reference_text():
    with open(os.path.join(MODELS, "stories260K.greedy200.txt"), encoding="utf-8") as f:
        return f.read().partition("text:\n")[2]


def test_generate(ref):
    for label, args in (("bin", [BIN, "-z", TOK]), ("gguf", [GGUF])):
        rc, out, err = run("examples/generate", args + ["-n", "200"])
        same = rc == 0 and out.rstrip("\n") == ref.rstrip("\n")
        check("generate %s: greedy text equals the reference" % label, same, err.strip())
    # a prompt is echoed and continued: the reference text starts with it
    rc, out, err = run("examples/generate", [GGUF, "-p", "Once upon a time", "-n", "20"])
    check("generate with a prompt continues it", rc == 0 and ref.startswith(out.rstrip("\n")[:40]),
          out[:80] + err)
    rc, out, err = run("examples/generate", [os.path.join(MODELS, "no-such.gguf")])
    check("generate: a failed load exits 1 with the library's message",
          rc == 1 and "no-such.gguf" in err and out == "", err.strip())


def test_chat():
    users = ["Hi there", "Tell me a story"]
    rc, out, err = run("examples/chat", [GGUF, "--template", "zephyr", "-n", "12"] + users)
    if rc != 0:
        check("chat runs", False, err.strip())
        return
    head, _, rendered = out.partition("---\n")
    replies = [l[len("assistant: "):] for l in head.splitlines() if l.startswith("assistant: ")]
    check("chat: one reply per user turn", len(replies) == 2, repr(head))
    if len(replies) != 2:
        return
    # docs/chat-templates.md: <|user|>\nU1</s>\n<|assistant|>\nA1</s>\n...
    want = "".join("<|user|>\n%s</s>\n<|assistant|>\n%s</s>\n" % (u, a) for u, a in zip(users, replies))
    check("chat: the conversation renders as the zephyr template", rendered == want,
          repr(rendered[:200]))
    # the same conversation through tlm-generate --chat (stdin lines are user turns)
    if not os.path.exists(os.path.join(BUILD, "tlm-generate")):
        check("chat: tlm-generate is built", False)
        return
    rc, out, err = run("tlm-generate", ["-m", GGUF, "--chat", "--template", "zephyr", "--temp", "0",
                                        "-n", "12"], stdin=("\n".join(users) + "\n").encode())
    tool = out.split("\n")
    check("chat: replies equal tlm-generate's greedy replies",
          rc == 0 and tool[:2] == replies, "%r vs %r" % (tool[:2], replies))


def embedding_table(path):
    """token_embedding_table [vocab][dim] of a llama2.c checkpoint: after a header of seven
    int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len)."""
    import numpy as np
    with open(path, "rb") as f:
        head = struct.unpack("<7i", f.read(28))
        dim, vocab = head[0], abs(head[5])
        table = np.frombuffer(f.read(4 * vocab * dim), dtype="<f4").reshape(vocab, dim)
    return dim, vocab, table


def test_embeddings():
    try:
        import numpy as np
    except ImportError:
        check("embeddings: numpy is installed", False)
        return
    tmp = tempfile.mkdtemp()
    hid_path, log_path = os.path.join(tmp, "hidden.f32"), os.path.join(tmp, "logits.f32")
    try:
        rc, out, err = run("examples/embeddings", [BIN, "-z", TOK, "-p", "Once upon a time, Lily",
                                                   "--hidden-out", hid_path])
        check("embeddings runs", rc == 0, err.strip())
        if rc != 0:
            return
        fields = dict(l.split(":", 1) for l in out.splitlines() if ":" in l)
        ids = [int(x) for x in fields.get("ids", "").split(",") if x.strip()]
        size = int(fields.get("size", "0"))
        first = [float(x) for x in fields.get("first", "").split()]
        dim, vocab, table = embedding_table(BIN)
        check("embeddings: the size is the model's dim (%d)" % dim, size == dim, out)
        hidden = np.fromfile(hid_path, dtype="<f4")
        check("embeddings: --hidden-out holds [n_tokens][dim] floats",
              len(ids) > 1 and ids[0] == 1 and hidden.size == len(ids) * dim,
              "%d floats, ids %r" % (hidden.size, ids))
        if hidden.size != len(ids) * dim or not ids:
            return
        hidden = hidden.reshape(len(ids), dim)
        mean = hidden.astype(np.float64).mean(axis=0)
        check("embeddings: the printed values are the mean of the rows",
              len(first) == min(8, dim) and np.allclose(first, mean[:len(first)], atol=2e-6),
              "%r vs %r" % (first, list(mean[:len(first)])))
        # the LM head of stories260K is the embedding table (tied): logits = hidden . table^T
        rc, _, err = run("tlm-logits", ["-m", BIN, "--tokens", ",".join(map(str, ids)),
                                        "--kv-type", "f16", "-o", log_path])
        if rc != 0:
            check("embeddings: tlm-logits runs", False, err.strip())
            return
        logits = np.fromfile(log_path, dtype="<f4").reshape(len(ids), vocab)
        mine = hidden.astype(np.float64) @ table.astype(np.float64).T
        diff = float(np.abs(mine - logits).max())
        check("embeddings: hidden states times the embedding table give tlm-logits' logits "
              "(max diff %.2g)" % diff, diff <= 1e-4)
    finally:
        for f in (hid_path, log_path):
            if os.path.exists(f):
                os.remove(f)
        os.rmdir(tmp)


def test_cancel():
    rc, out, err = run("examples/cancel", [BIN, "-z", TOK])
    lines = out.splitlines()
    check("cancel exits 0", rc == 0, err.strip())
    first = next((l for l in lines if l.startswith("first evaluation:")), "")
    second = next((l for l in lines if l.startswith("second evaluation:")), "")
    check("cancel: the first evaluation is cancelled (TLM_ERR_CANCELLED)",
          first.startswith("first evaluation: cancelled (") and "of 512 positions kept" in first,
          repr(out))
    check("cancel: the second evaluation completes, all 512 positions",
          second.startswith("second evaluation: completed (") and "512 of 512 positions" in second,
          repr(out))


def test_readme_snippet():
    """The README's library snippet compiles as it stands and, with no model.gguf in the
    directory it runs in, stops with the library's message instead of going on."""
    import tempfile
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.find("```c\n#include <stdio.h>")
    end = text.find("```", start + 4)
    if start < 0:
        check("README: the library snippet is there", False)
        return
    tmp = tempfile.mkdtemp()
    src, exe = os.path.join(tmp, "snippet.c"), os.path.join(tmp, "snippet")
    with open(src, "w") as f:
        f.write(text[start + 5:end])
    build = os.path.abspath(BUILD)
    p = subprocess.run([os.environ.get("CC", "cc"), "-std=c11", "-Wall", "-Werror", "-I",
                        os.path.join(root, "include"), src, "-o", exe, "-L" + build, "-ltinylm",
                        "-Wl,-rpath," + build]
                       + testlib.sanitizer_flags(os.path.join(build, "libtinylm.so")),
                       capture_output=True, text=True)
    check("README: the library snippet compiles with -Wall -Werror", p.returncode == 0, p.stderr)
    if p.returncode == 0:
        r = subprocess.run([exe], capture_output=True, text=True, cwd=tmp)
        check("README: the snippet stops with the load error",
              r.returncode == 1 and "model.gguf" in r.stderr and r.stdout == "", r.stderr)
    for f in (src, exe):
        if os.path.exists(f):
            os.remove(f)
    os.rmdir(tmp)


def main():
    global skipped
    if not os.path.exists(GGUF):
        print("test_examples: 0 passed, 0 failed, 1 skipped (no ../shared/models)")
        return 0
    ref = reference_text()
    test_generate(ref)
    test_chat()
    test_embeddings()
    test_cancel()
    test_readme_snippet()
    print("test_examples: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
