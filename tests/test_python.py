"""python/tinylm: the ctypes binding over $TLM_BUILD/libtinylm.so, run in this interpreter
(python/ put on sys.path, TINYLM_LIBRARY set unless given). Expectations come from outside the
binding: the reference greedy text (../shared/models/stories260K.greedy200.txt) and
tlm-generate's, tlm-logits' float32 output, tlm-tokenize --chat's ids, examples/chat's
rendering and replies, and examples/generate's report of a failed load."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testlib  # noqa: E402  (sanitizer reports and signals of the tools run here count)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.abspath(os.environ.get("TLM_BUILD", "build"))
SHARED = os.environ.get("TLM_SHARED", os.path.join(ROOT, "..", "shared"))
MODELS = os.path.join(SHARED, "models")
BIN = os.path.join(MODELS, "stories260K.bin")
GGUF = os.path.join(MODELS, "stories260K.gguf")
TOK = os.path.join(MODELS, "tok512.bin")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def run(prog, args, stdin=None):
    path = os.path.join(BUILD, prog)
    if not os.path.exists(path):
        return 127, "", "%s is not built" % prog
    p = subprocess.run([path] + args, input=stdin, capture_output=True, timeout=120)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def reference():
    with open(os.path.join(MODELS, "stories260K.greedy200.txt"), encoding="utf-8") as f:
        head, _, text = f.read().partition("text:\n")
    ids = next((l[4:].split() for l in head.splitlines() if l.startswith("ids:")), [])
    return [int(v) for v in ids], text


def test_generate(tinylm, ref_text):
    with tinylm.Model(BIN, tokenizer=TOK) as m:
        pieces = list(m.generate("", 200, temperature=0))
    text = "".join(pieces)
    check("generate: greedy text from BOS equals the reference (bin + tok512.bin)",
          text.rstrip("\n") == ref_text.rstrip("\n"), repr(text[:80]))
    check("generate: streams many pieces", len(pieces) > 100, "%d pieces" % len(pieces))
    rc, out, err = run("tlm-generate", ["-m", BIN, "-z", TOK, "--temp", "0", "-n", "200"])
    check("generate: equals tlm-generate's greedy text", rc == 0 and out.rstrip("\n") ==
          text.rstrip("\n"), err.strip()[-200:])
    with tinylm.Model(GGUF) as m:
        gguf = "".join(m.generate("", 200))
        prompted = "".join(m.generate("Once upon a time", 20))
        sampled = ["".join(m.generate("Once", 30, temperature=1.0, seed=s)) for s in (7, 7, 8)]
    check("generate: the GGUF's own vocabulary gives the same text", gguf == text)
    rc, out, err = run("tlm-generate", ["-m", GGUF, "-p", "Once upon a time", "--temp", "0",
                                        "-n", "20"])
    check("generate: a prompt's continuation equals tlm-generate's",
          rc == 0 and out.rstrip("\n") == prompted.rstrip("\n") and len(prompted) > 20,
          "%r vs %r" % (out[:80], prompted[:80]))
    check("generate: sampling is repeatable by seed and changes with it",
          sampled[0] == sampled[1] and sampled[0] != sampled[2], repr(sampled))


def test_logits(tinylm, ref_ids):
    import numpy as np
    ids = ref_ids[:24]
    tmp = tempfile.mkdtemp()
    out_path = os.path.join(tmp, "logits.f32")
    try:
        rc, _, err = run("tlm-logits", ["-m", BIN, "--tokens", ",".join(map(str, ids)),
                                        "-o", out_path])
        if rc != 0:
            check("logits: tlm-logits runs", False, err.strip())
            return
        want = np.fromfile(out_path, dtype="<f4")
    finally:
        if os.path.exists(out_path):
            os.remove(out_path)
        os.rmdir(tmp)
    with tinylm.Model(BIN, tokenizer=TOK) as m:
        got = m.logits(ids)
        saved, tinylm._np = tinylm._np, None  # the path taken when numpy is missing
        try:
            lists = m.logits(ids)
        finally:
            tinylm._np = saved
        n_vocab = m.n_vocab
    want = want.reshape(-1, n_vocab) if want.size % n_vocab == 0 else want
    ok = isinstance(got, np.ndarray) and got.dtype == np.float32 and got.shape == want.shape
    check("logits (numpy): a float32 array [%d][%d]" % (len(ids), n_vocab), ok,
          "%r vs %r" % (getattr(got, "shape", None), want.shape))
    if ok:
        diff = float(np.abs(got - want).max())
        check("logits (numpy): equal tlm-logits' within 1e-6 (max diff %.2g)" % diff, diff <= 1e-6)
    ok = (isinstance(lists, list) and len(lists) == len(ids)
          and all(isinstance(r, list) and len(r) == n_vocab for r in lists))
    check("logits (lists): a list of %d lists without numpy" % len(ids), ok)
    if ok and want.shape == (len(ids), n_vocab):
        diff = float(np.abs(np.array(lists, dtype=np.float64) - want).max())
        check("logits (lists): equal tlm-logits' within 1e-6 (max diff %.2g)" % diff, diff <= 1e-6)


def test_preset(tinylm):
    """A preset through the binding: its logits equal tlm-logits --preset's."""
    import numpy as np
    ids = [1, 20, 300, 4000, 5]
    tmp = tempfile.mkdtemp()
    out_path = os.path.join(tmp, "logits.f32")
    try:
        rc, _, err = run("tlm-logits", ["--preset", "mobilellm-350m", "--random-weights",
                                        "--kv-type", "f32", "--tokens", ",".join(map(str, ids)),
                                        "-o", out_path])
        want = np.fromfile(out_path, dtype="<f4") if rc == 0 else None
    finally:
        if os.path.exists(out_path):
            os.remove(out_path)
        os.rmdir(tmp)
    check("preset: tlm-logits --preset runs", want is not None, err.strip()[-200:])
    with tinylm.Model.preset("mobilellm-350m") as m:
        got = m.logits(ids)
        try:
            m.tokenizer
            check("preset: asking for its tokenizer raises tinylm.Error", False)
        except tinylm.Error as e:
            check("preset: asking for its tokenizer raises tinylm.Error", "no tokenizer" in str(e),
                  str(e))
    if want is not None:
        want = want.reshape(len(ids), -1)
        diff = float(np.abs(got - want).max()) if got.shape == want.shape else float("inf")
        check("preset: logits equal tlm-logits --preset's within 1e-6 (max diff %.2g)" % diff,
              diff <= 1e-6)
    try:
        tinylm.Model.preset("no-such-model")
        check("an unknown preset raises tinylm.Error", False)
    except tinylm.Error as e:
        check("an unknown preset raises tinylm.Error with the library's message",
              "no-such-model" in str(e), str(e))


def test_tokenizer(tinylm):
    text = "Once upon a time, Lily saw a big dog."
    with tinylm.Model(GGUF) as m:
        ids = m.tokenizer.tokenize(text, add_bos=True)
        back = m.tokenizer.detokenize(ids[1:], prev=ids[0])
    rc, out, err = run("tlm-tokenize", ["-m", GGUF, "--ids", "--bos", text])
    check("tokenize: ids equal tlm-tokenize's", rc == 0 and out.split() == [str(i) for i in ids],
          "%r vs %r" % (out.strip(), ids))
    check("detokenize: gives the text back", back == text, repr(back))
    with tinylm.Tokenizer(TOK, n_vocab=512) as tok:
        check("Tokenizer(tok512.bin): the same ids as the GGUF vocabulary",
              tok.tokenize(text, add_bos=True) == ids)


def test_chat(tinylm):
    users = ["Hi there", "Tell me a story"]
    convo = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": users[0]}]
    with tinylm.Model(GGUF) as m:
        ids = m.tokenizer.chat_tokenize(convo, template="zephyr")
        reply = "".join(m.chat(convo, n=12, template="zephyr"))
        rc, out, err = run("examples/chat", [GGUF, "--template", "zephyr", "-n", "12"] + users)
        head, _, rendered = out.partition("---\n")
        replies = [l[len("assistant: "):] for l in head.splitlines() if l.startswith("assistant: ")]
        if rc != 0 or len(replies) != 2:
            check("chat: examples/chat runs", False, err.strip() or repr(out))
            return
        msgs = []
        for u, a in zip(users, replies):
            msgs += [("user", u), ("assistant", a)]
        mine = m.tokenizer.chat_render(msgs, template="zephyr", add_generation_prompt=False)
        check("chat_render: the conversation equals examples/chat's rendering", mine == rendered,
              "%r vs %r" % (mine[:120], rendered[:120]))
        first = "".join(m.chat([("user", users[0])], n=12, template="zephyr"))
        check("chat: the greedy reply equals examples/chat's", first == replies[0],
              "%r vs %r" % (first, replies[0]))
        try:
            m.tokenizer.chat_render(convo, template="gemma")
            check("chat_render: a system message with gemma raises tinylm.Error", False)
        except tinylm.Error as e:
            check("chat_render: a system message with gemma raises tinylm.Error",
                  e.status == 3 and str(e) != "", str(e))
    stdin = "".join("%s %s\n" % (m_["role"], m_["content"].encode().hex()) for m_ in convo)
    rc, out, err = run("tlm-tokenize", ["-m", GGUF, "--chat", "zephyr"], stdin=stdin.encode())
    check("chat_tokenize: ids equal tlm-tokenize --chat's",
          rc == 0 and out.split() == [str(i) for i in ids], "%r vs %r" % (out.strip(), ids))
    check("chat: a reply is generated", isinstance(reply, str) and len(reply) > 0, repr(reply))


def test_errors(tinylm):
    bad = os.path.join(MODELS, "no-such.gguf")
    try:
        tinylm.Model(bad)
        check("a bad path raises tinylm.Error", False)
        return
    except tinylm.Error as e:
        msg, status = str(e), e.status
    check("a bad path raises tinylm.Error naming the file, status TLM_ERR_IO",
          "no-such.gguf" in msg and status == 1, "%r %r" % (msg, status))
    rc, _, err = run("examples/generate", [bad])
    check("the message is the library's (as examples/generate prints it)",
          rc == 1 and err.startswith("%s: %s (" % (bad, msg)), "%r vs %r" % (err.strip(), msg))
    m = tinylm.Model(GGUF)
    m.close()
    m.close()
    try:
        m.logits([1])
        check("a closed model raises tinylm.Error", False)
    except tinylm.Error:
        check("a closed model raises tinylm.Error", True)
    with tinylm.Model(GGUF) as m:
        try:
            m.logits([1, 100000])
            check("an id out of range raises tinylm.Error with the context's message", False)
        except tinylm.Error as e:
            check("an id out of range raises tinylm.Error with the context's message",
                  e.status == 5 and "100000" in str(e), str(e))


def main():
    if not os.path.exists(GGUF):
        testlib.missing("../shared/models (stories260K)", N_CASES)
        return testlib.finish("python", 0, 0)
    lib = os.environ.get("TINYLM_LIBRARY", os.path.join(BUILD, "libtinylm.so"))
    rerun = testlib.rerun_with_asan_preloaded(lib, __file__)
    if rerun is not None:
        return rerun
    sys.path.insert(0, os.path.join(ROOT, "python"))
    os.environ.setdefault("TINYLM_LIBRARY", os.path.join(BUILD, "libtinylm.so"))
    import tinylm
    try:
        tinylm.library()
        check("the library loads from TINYLM_LIBRARY", True)
    except tinylm.Error as e:
        check("the library loads from TINYLM_LIBRARY", False, str(e))
        print("test_python: %d passed, %d failed" % (passed, failed))
        return 1
    ref_ids, ref_text = reference()
    for test, args in ((test_generate, (ref_text,)), (test_logits, (ref_ids,)),
                       (test_tokenizer, ()), (test_chat, ()), (test_errors, ()),
                       (test_preset, ())):
        try:
            test(tinylm, *args)
        except Exception as e:  # an unexpected exception is a failure, not a crash
            check(test.__name__ + " raised no unexpected exception", False,
                  "%s: %s" % (type(e).__name__, e))
    return testlib.finish("python", passed, failed)


N_CASES = 27  # the checks main() makes when every one runs

if __name__ == "__main__":
    sys.exit(main())
