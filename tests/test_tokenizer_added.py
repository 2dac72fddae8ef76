"""Added tokens with whitespace rules (issue 19): Hugging Face's AddedVocabulary split, computed
here by an independent implementation of the rule, against libtinylm.

1. Phi-3: its tokenizer files give <|user|>, <|assistant|>, <|system|>, <|end|>, the
   placeholders and </s> rstrip (<unk>, <s>, <|endoftext|> none). Expected ids: the text is
   split at added tokens (leftmost, longest), the White_Space after an rstrip token is
   dropped, and every remaining piece is encoded by Debian's python3-sentencepiece on the real
   Llama-2 tokenizer.model (Phi-3's base vocabulary; each piece gets the dummy prefix, as HF's
   Prepend("▁") normaliser and llama.cpp give it). libtinylm reads the same vocabulary as
   (a) the real llama.cpp ggml-vocab-phi-3.gguf, (b) a GGUF written here (arch phi3), (c) a
   directory of tokenizer.model + a tokenizer_config.json declaring the flags; through
   tlm-tokenize --special and through tlm_chat_tokenize (tlm-tokenize --chat phi3).
2. The same GGUF with general.architecture "llama" and TinyLlama's Zephyr chat keep every
   whitespace (no family rule): expected ids from the same split without stripping.
3. A byte-level tokenizer.json with hand-made added tokens exercising lstrip, rstrip,
   single_word, normalized true/false (and an NFC normaliser): ids worked out by hand below.
4. Phi-2, Qwen2, Qwen v1 and StableLM-2 declare no stripping: the ids of a ChatML / Phi-2 text
   with whitespace after each special token keep that whitespace (the special ids plus the
   plain encoding of each piece between them)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
VOCAB = os.path.join(SHARED, "vocab")
SPM_MODEL = os.path.join(VOCAB, "llama2", "tokenizer.model")
TOOL = os.path.join(BUILD, "tlm-tokenize")

passed = failed = skipped = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def run(args, stdin=None):
    r = subprocess.run([TOOL] + args, input=stdin, capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode(errors="replace").strip()
    return [int(x) for x in r.stdout.split()], ""


# ---- the rule, independently: Rust regex \s is Unicode White_Space -----------------------

WHITE_SPACE = set(map(chr, [9, 10, 11, 12, 13, 32, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F,
                            0x205F, 0x3000] + list(range(0x2000, 0x200B))))


def hf_split(text, added):
    """added: content -> (id, lstrip, rstrip). Pieces of text and ids, as AddedVocabulary
    splits (one pass: every token here is normalized=false)."""
    contents = sorted(added, key=len, reverse=True)
    out, seg, at = [], 0, 0
    while at < len(text):
        m = next((c for c in contents if text.startswith(c, at)), None)
        if m is None:
            at += 1
            continue
        tid, lstrip, rstrip = added[m]
        start, stop = at, at + len(m)
        at = stop
        if lstrip:
            ws = start
            while ws > 0 and text[ws - 1] in WHITE_SPACE:
                ws -= 1
            start = max(ws, seg)
        if rstrip:
            while stop < len(text) and text[stop] in WHITE_SPACE:
                stop += 1
        if seg < start:
            out.append(text[seg:start])
        out.append(tid)
        seg = stop
    if seg < len(text):
        out.append(text[seg:])
    return out


def ref_ids(sp, text, added):
    ids = []
    for p in hf_split(text, added):
        ids += [p] if isinstance(p, int) else sp.encode(p)
    return ids


# ---- Phi-3's added tokens, as its tokenizer_config.json declares them --------------------

PHI3_ADDED = [  # id, content, special, rstrip
    (0, "<unk>", True, False), (1, "<s>", True, False), (2, "</s>", False, True),
    (32000, "<|endoftext|>", True, False), (32001, "<|assistant|>", True, True),
    (32002, "<|placeholder1|>", True, True), (32003, "<|placeholder2|>", True, True),
    (32004, "<|placeholder3|>", True, True), (32005, "<|placeholder4|>", True, True),
    (32006, "<|system|>", True, True), (32007, "<|end|>", True, True),
    (32008, "<|placeholder5|>", True, True), (32009, "<|placeholder6|>", True, True),
    (32010, "<|user|>", True, True)]


def phi3_table(strip):
    return {c: (i, False, r and strip) for i, c, _, r in PHI3_ADDED}


def gguf_kv(key, vtype, value):
    def s(x):
        b = x.encode("utf-8")
        return struct.pack("<Q", len(b)) + b
    out = s(key) + struct.pack("<I", vtype)
    if vtype == 8:
        return out + s(value)
    if vtype == 4:
        return out + struct.pack("<I", value)
    if vtype == 7:
        return out + struct.pack("<B", 1 if value else 0)
    etype, items = value
    out += struct.pack("<IQ", etype, len(items))
    if etype == 8:
        return out + b"".join(s(x) for x in items)
    return out + struct.pack("<%d%s" % (len(items), "f" if etype == 6 else "i"), *items)


def write_phi3_gguf(path, sp, arch):
    """A vocab-only GGUF laid out as llama.cpp's converter writes Phi-3's: the 32000
    SentencePiece pieces, the 11 added tokens (CONTROL; </s> USER_DEFINED), 32011..32063
    [PAD] pieces. No whitespace flags: GGUF has none."""
    tokens, scores, types = [], [], []
    for i in range(sp.get_piece_size()):
        tokens.append(sp.id_to_piece(i))
        scores.append(sp.get_score(i))
        types.append(2 if sp.is_unknown(i) else 3 if sp.is_control(i) else
                     6 if sp.is_byte(i) else 5 if sp.is_unused(i) else 1)
    types[2] = 4
    for i, c, _, _ in PHI3_ADDED[3:]:
        tokens.append(c)
        scores.append(0.0)
        types.append(3)
    for i in range(32011, 32064):
        tokens.append("[PAD%d]" % i)
        scores.append(0.0)
        types.append(2)
    kvs = [gguf_kv("general.architecture", 8, arch), gguf_kv("general.name", 8, "test vocab"),
           gguf_kv("tokenizer.ggml.model", 8, "llama"),
           gguf_kv("tokenizer.ggml.tokens", 9, (8, tokens)),
           gguf_kv("tokenizer.ggml.scores", 9, (6, scores)),
           gguf_kv("tokenizer.ggml.token_type", 9, (5, types)),
           gguf_kv("tokenizer.ggml.bos_token_id", 4, 1),
           gguf_kv("tokenizer.ggml.eos_token_id", 4, 32000),
           gguf_kv("tokenizer.ggml.unknown_token_id", 4, 0),
           gguf_kv("tokenizer.ggml.add_bos_token", 7, True)]
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + b"".join(kvs))


def write_phi3_dir(d):
    os.symlink(os.path.abspath(SPM_MODEL), os.path.join(d, "tokenizer.model"))
    dec = {str(i): {"content": c, "lstrip": False, "normalized": False, "rstrip": r,
                    "single_word": False, "special": s} for i, c, s, r in PHI3_ADDED}
    cfg = {"add_bos_token": True, "add_eos_token": False, "added_tokens_decoder": dec,
           "bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>",
           "tokenizer_class": "LlamaTokenizer"}
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f)


PHI3_TEXTS = [
    "<s><|user|>\nHello<|end|>\n<|assistant|>\n",
    "<s><|system|>\nBe brief.<|end|>\n<|user|>\nHi there  <|end|>\n<|assistant|>\nHello!\n"
    "How can I help?<|end|>\n<|user|>\n<|end|>\n<|assistant|>\n",
    "<s><|user|>\n   leading spaces and trailing \t <|end|>\n<|assistant|>",
    "<s><|user|>\u3000\u00a0wide space, then text\n\nwith a blank line\n<|end|>\n",
    "<s><|system|>\n<|end|>\n<|user|>\n\n\n<|end|>\n<|assistant|> \n",
    "<s><|user|>\x1cnot White_Space<|end|>x</s>\n y<|endoftext|>\n z<s> w",
    "<s><|placeholder1|>\n a <|placeholder6|>  b<|end|>",
]

PHI3_CHATS = [  # messages; the generation prompt is added
    [("user", "Hello")],
    [("system", "Be brief."), ("user", "Hi there  "), ("assistant", "Hello!\nHow can I help?"),
     ("user", "")],
    [("user", "  leading spaces\n\nand a blank line\n"), ("assistant", ""),
     ("user", "tabs\tand\u3000wide\u00a0spaces \t")],
    [("system", ""), ("user", "\n\nnewlines first"), ("assistant", " a"), ("user", "b ")],
]

PHI3_TEMPLATE = {"system": "<|system|>\n", "user": "<|user|>\n", "assistant": "<|assistant|>\n"}


def render_phi3(msgs):
    """microsoft/Phi-3-mini-4k-instruct's later template (docs/chat-templates.md), with a
    generation prompt; BOS comes from add_bos_token."""
    return "".join(PHI3_TEMPLATE[r] + c + "<|end|>\n" for r, c in msgs) + "<|assistant|>\n"


def chat_stdin(msgs):
    return "".join("%s %s\n" % (r, c.encode().hex()) for r, c in msgs).encode()


def phi3_tests(sp, tmp):
    gguf_phi3 = os.path.join(tmp, "phi3.gguf")
    gguf_llama = os.path.join(tmp, "llama.gguf")
    d = os.path.join(tmp, "phi3-hf")
    os.mkdir(d)
    write_phi3_gguf(gguf_phi3, sp, "phi3")
    write_phi3_gguf(gguf_llama, sp, "llama")
    write_phi3_dir(d)
    vocabs = [("real phi-3 GGUF", os.path.join(VOCAB, "llamacpp", "ggml-vocab-phi-3.gguf"), True),
              ("written phi3 GGUF", gguf_phi3, True), ("tokenizer.model + config", d, True),
              ("same GGUF as arch llama", gguf_llama, False)]

    issue, _ = run(["--vocab", vocabs[0][1], "--special", "--ids", PHI3_TEXTS[0]])
    check("issue 19 example on the real Phi-3 GGUF gives HF's and llama.cpp's ids",
          issue == [1, 32010, 15043, 32007, 32001], str(issue))
    check("the reference rule gives the issue's ids too",
          ref_ids(sp, PHI3_TEXTS[0], phi3_table(True)) == [1, 32010, 15043, 32007, 32001])

    for name, path, strip in vocabs:
        table = phi3_table(strip)
        for k, text in enumerate(PHI3_TEXTS):
            want = ref_ids(sp, text, table)
            got, err = run(["--vocab", path, "--special", "--ids", text])
            check("%s: text %d%s" % (name, k, "" if strip else " keeps whitespace"), got == want,
                  "got %s want %s %s" % (got, want, err) if got != want else "")
        for k, msgs in enumerate(PHI3_CHATS):
            want = [1] + ref_ids(sp, render_phi3(msgs), table)
            got, err = run(["--vocab", path, "--chat", "phi3"], chat_stdin(msgs))
            check("%s: tlm_chat_tokenize conversation %d" % (name, k), got == want,
                  "got %s want %s %s" % (got, want, err) if got != want else "")


def zephyr_tests(sp):
    """TinyLlama (Llama-2 vocab GGUF, Zephyr template): </s> declares no stripping there."""
    path = os.path.join(VOCAB, "llamacpp", "ggml-vocab-llama-spm.gguf")
    table = {"<unk>": (0, False, False), "<s>": (1, False, False), "</s>": (2, False, False)}
    for k, msgs in enumerate(PHI3_CHATS):
        text = "".join(PHI3_TEMPLATE[r] + c + "</s>\n" for r, c in msgs) + "<|assistant|>\n"
        want = [1] + ref_ids(sp, text, table)
        got, err = run(["--vocab", path, "--chat", "zephyr"], chat_stdin(msgs))
        check("TinyLlama Zephyr conversation %d keeps whitespace" % k, got == want,
              "got %s want %s %s" % (got, want, err) if got != want else "")


# ---- a hand-made byte-level tokenizer.json ------------------------------------------------

def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def hand_made(tmp):
    """Every byte is its own piece (id = byte value, no merges), so plain text is its UTF-8
    bytes and the expected ids below can be read off by hand."""
    b2u = bytes_to_unicode()
    vocab = {b2u[b]: b for b in range(256)}

    def tok(i, content, special, lstrip=False, rstrip=False, single_word=False, normalized=None):
        return {"id": i, "content": content, "single_word": single_word, "lstrip": lstrip,
                "rstrip": rstrip, "normalized": (not special) if normalized is None else normalized,
                "special": special}
    added = [tok(300, "<L>", True, lstrip=True), tok(301, "<R>", True, rstrip=True),
             tok(302, "<LR>", True, lstrip=True, rstrip=True), tok(303, "cat", False,
             single_word=True, normalized=False), tok(304, "xy", False, normalized=True),
             tok(305, "yz", False, normalized=False), tok(306, "\u00e9", False, normalized=True),
             tok(307, "\u00f6", False, normalized=False), tok(308, "<P>", True)]
    tj = {"version": "1.0", "added_tokens": added, "normalizer": {"type": "NFC"},
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                            "use_regex": True},
          "model": {"type": "BPE", "vocab": vocab, "merges": []}}
    path = os.path.join(tmp, "hand", "tokenizer.json")
    os.mkdir(os.path.dirname(path))
    with open(path, "w") as f:
        json.dump(tj, f)

    def b(s):
        return list(s.encode())
    cases = [  # text, expected ids (by hand)
        ("a  <L>b", b("a") + [300] + b("b")),                      # lstrip takes both spaces
        ("a\u3000\t<L>b", b("a") + [300] + b("b")),                 # Unicode White_Space too
        ("a\x1c<L>", b("a\x1c") + [300]),                          # U+001C is not White_Space
        ("<P>  <L>", [308, 300]),                                  # lstrip: up to the previous match
        ("<R>  <L>", [301, 300]),
        ("<R> \n\tb", [301] + b("b")),                             # rstrip takes all of it
        ("<R>\u00a0\u2009b ", [301] + b("b ")),
        ("a <LR> b", b("a") + [302] + b("b")),
        ("a <P> b", b("a ") + [308] + b(" b")),                    # no flags: spaces stay
        ("cat dog", [303] + b(" dog")),                            # single_word
        ("concat", b("concat")),
        ("cats", b("cats")),
        ("cat,cat", [303] + b(",") + [303]),
        ("_cat", b("_cat")),                                       # connector punctuation is \w
        ("9cat", b("9cat")),                                       # a digit is \w
        ("\u00dfcat", b("\u00dfcat")),                             # a letter is \w
        ("\u00e9cat", [306] + b("cat")),                          # ...and é is a token of pass 2
        ("\u00b2cat", b("\u00b2") + [303]),                        # No is not \w in Rust regex
        ("xyz", b("x") + [305]),                                   # normalized=false goes first
        ("xy", [304]),
        ("e\u0301", [306]),                                        # normalized: matched after NFC
        ("o\u0308", b("\u00f6")),                                  # raw-only token: NFC'd bytes
        ("\u00f6", [307]),
    ]
    for text, want in cases:
        got, err = run(["--vocab", path, "--special", "--ids", text])
        check("hand-made tokenizer.json: %r" % text, got == want,
              "got %s want %s %s" % (got, want, err) if got != want else "")
    got, _ = run(["--vocab", path, "--no-special", "--ids", "a <LR> b"])
    check("hand-made: a special token is plain text with --no-special",
          got == b("a <LR> b"), str(got))


# ---- families that declare no stripping ---------------------------------------------------

def keeps_whitespace(name, path, text, specials):
    """ids of text with special parsing == special ids plus the plain encoding of each piece
    between them, whitespace and all."""
    want, pieces, rest = [], [], text
    while rest:
        at = min((rest.find(s), s) for s in specials if s in rest) if any(s in rest for s in specials) else None
        if at is None:
            pieces.append(rest)
            break
        i, s = at
        if i:
            pieces.append(rest[:i])
        pieces.append((s,))
        rest = rest[i + len(s):]
    for p in pieces:
        if isinstance(p, tuple):
            ids, _ = run(["--vocab", path, "--special", "--ids", p[0]])
        else:
            ids, _ = run(["--vocab", path, "--ids", p])
        want += ids or [-1]
    got, err = run(["--vocab", path, "--special", "--ids", text])
    check("%s keeps the whitespace after its special tokens" % name, got == want and len(got) > 4,
          "got %s want %s %s" % (got, want, err) if got != want else "")


def other_families():
    chatml = "<|im_start|>system\n  Be brief.<|im_end|>\n <|im_start|>user\n\nHi  <|im_end|>\n"
    keeps_whitespace("Qwen2 (vocab.json)", os.path.join(VOCAB, "qwen2"), chatml,
                     ["<|im_start|>", "<|im_end|>"])
    keeps_whitespace("Qwen v1 (qwen.tiktoken)", os.path.join(VOCAB, "qwen", "qwen.tiktoken"),
                     chatml, ["<|im_start|>", "<|im_end|>"])
    keeps_whitespace("StableLM-2 (GGUF)", os.path.join(VOCAB, "llamacpp",
                                                        "ggml-vocab-stablelm2.gguf"),
                     chatml, ["<|im_start|>", "<|im_end|>"])
    keeps_whitespace("Phi-2 (tokenizer.json)", os.path.join(VOCAB, "phi-2", "tokenizer.json"),
                     "Instruct: hi\nOutput: <|endoftext|>\n  next<|endoftext|> x",
                     ["<|endoftext|>"])


def main():
    if not os.path.exists(TOOL):
        print("test_tokenizer_added: 0 passed, 1 failed (no %s)" % TOOL)
        return 1
    try:
        import sentencepiece
    except ImportError:
        sentencepiece = None
    with tempfile.TemporaryDirectory() as tmp:
        hand_made(tmp)
        if sentencepiece and os.path.exists(SPM_MODEL):
            sp = sentencepiece.SentencePieceProcessor(model_file=SPM_MODEL)
            phi3_tests(sp, tmp)
            zephyr_tests(sp)
        else:
            global skipped
            skipped += 1
            print("skip Phi-3 and Zephyr: python3-sentencepiece or %s missing" % SPM_MODEL)
    if os.path.isdir(VOCAB):
        other_families()
    print("test_tokenizer_added: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
