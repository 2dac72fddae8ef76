"""Grammar-constrained generation must give JSON that parses and validates, whatever the
model wants: random logits (the library's sampler through ctypes, on the llama2 32k and
stories260K vocabularies) and the real stories260K weights through tlm-generate
--json-schema. The validator below is written here from the JSON Schema specification
(draft 2020-12) for every keyword docs/grammar.md lists as supported; it shares nothing with
the C converter. Also: GBNF through tlm-generate --grammar, unsupported keywords refused
with their name, bad grammars refused with a line and column."""
import ctypes
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import uuid

import testlib

BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(os.path.dirname(__file__), "..", "..", "shared"))
MODELS = os.path.join(SHARED, "models")
STORIES = os.path.join(MODELS, "stories260K.bin")
TOK512 = os.path.join(MODELS, "tok512.bin")
LLAMA2 = os.path.join(SHARED, "vocab", "llama2", "tokenizer.model")
GEN = os.path.join(BUILD, "tlm-generate")

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    sys.stdout.flush()
    if ok:
        passed += 1
    else:
        failed += 1


# ---- an independent validator ---------------------------------------------------------

def _type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "integer":  # 2020-12: a number with a zero fractional part
        return isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer()
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise ValueError("unknown type " + t)


def _json_eq(a, b):
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_eq(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_eq(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _format_ok(s, f):
    try:
        if f == "date":  # RFC 3339 full-date
            return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", s)) and bool(datetime.date.fromisoformat(s))
        if f == "time":  # RFC 3339 full-time: offset required
            m = re.fullmatch(r"(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))", s)
            return bool(m) and int(m.group(1)) < 24 and int(m.group(2)) < 60 and \
                int(m.group(3)) < 60 and (m.group(5) == "Z" or (int(m.group(6)) < 24 and int(m.group(7)) < 60))
        if f == "date-time":
            d, _, t = s.partition("T")
            return _format_ok(d, "date") and _format_ok(t, "time")
        if f == "uuid":
            return bool(re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", s)) and \
                bool(uuid.UUID(s))
        if f == "email":  # docs/grammar.md: dot-atom local part, dotted domain, letters TLD
            return bool(re.fullmatch(r"[A-Za-z0-9_%+-]+(\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", s))
    except ValueError:
        return False
    raise ValueError("unknown format " + f)


def validate(v, s, root, path="#"):
    """A list of errors (empty: valid)."""
    if s is True or s == {}:
        return []
    if s is False:
        return [path + ": false schema"]
    errs = []
    if "$ref" in s:
        ref = s["$ref"]
        target = root
        if ref != "#":
            for part in ref[2:].split("/"):
                target = target[part]
        errs += validate(v, target, root, path)
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_type_ok(v, t) for t in ts):
            errs.append("%s: %r is not %s" % (path, v, ts))
            return errs
    if "const" in s and not _json_eq(v, s["const"]):
        errs.append("%s: %r != const %r" % (path, v, s["const"]))
    if "enum" in s and not any(_json_eq(v, e) for e in s["enum"]):
        errs.append("%s: %r not in enum" % (path, v))
    if "anyOf" in s and not any(not validate(v, sub, root, path) for sub in s["anyOf"]):
        errs.append("%s: matches no anyOf branch" % path)
    if "oneOf" in s:
        n = sum(1 for sub in s["oneOf"] if not validate(v, sub, root, path))
        if n != 1:
            errs.append("%s: matches %d oneOf branches" % (path, n))
    if isinstance(v, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in v:
                errs.append("%s: required %r missing" % (path, k))
        for k, x in v.items():
            if k in props:
                errs += validate(x, props[k], root, path + "/" + k)
            elif "additionalProperties" in s:
                errs += validate(x, s["additionalProperties"], root, path + "/" + k)
    if isinstance(v, list):
        if "minItems" in s and len(v) < s["minItems"]:
            errs.append("%s: fewer than minItems" % path)
        if "maxItems" in s and len(v) > s["maxItems"]:
            errs.append("%s: more than maxItems" % path)
        if "items" in s:
            for i, x in enumerate(v):
                errs += validate(x, s["items"], root, "%s/%d" % (path, i))
    if isinstance(v, str):
        if "minLength" in s and len(v) < s["minLength"]:
            errs.append("%s: shorter than minLength" % path)
        if "maxLength" in s and len(v) > s["maxLength"]:
            errs.append("%s: longer than maxLength" % path)
        if "format" in s and not _format_ok(v, s["format"]):
            errs.append("%s: %r is not a %s" % (path, v, s["format"]))
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if "minimum" in s and v < s["minimum"]:
            errs.append("%s: below minimum" % path)
        if "maximum" in s and v > s["maximum"]:
            errs.append("%s: above maximum" % path)
        if "exclusiveMinimum" in s and v <= s["exclusiveMinimum"]:
            errs.append("%s: not above exclusiveMinimum" % path)
        if "exclusiveMaximum" in s and v >= s["exclusiveMaximum"]:
            errs.append("%s: not below exclusiveMaximum" % path)
    return errs


def validator_selftest():
    """The validator itself must reject what it should (else 100% proves nothing)."""
    s = {"type": "object", "properties": {"a": {"type": "integer", "minimum": 2}},
         "required": ["a"], "additionalProperties": False}
    cases = [({"a": 2}, True), ({"a": 1}, False), ({}, False), ({"a": 2, "b": 1}, False),
             ({"a": 2.5}, False), ({"a": True}, False)]
    cases2 = [("2024-02-28", "date", True), ("2024-02-30", "date", False),
              ("23:59:60Z", "time", False), ("12:00:00", "time", False),
              ("a.b@c.io", "email", True), ("a@b", "email", False),
              ("123e4567-e89b-12d3-a456-426614174000", "uuid", True)]
    ok = all((not validate(v, s, s)) == want for v, want in cases) and \
        all(_format_ok(v, f) == want for v, f, want in cases2)
    check("the validator rejects invalid values", ok)


# ---- schemas covering every supported keyword ------------------------------------------

SCHEMAS = {
    "object": {"type": "object",
               "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 10},
                              "age": {"type": "integer", "minimum": 0, "maximum": 150},
                              "ok": {"type": "boolean"},
                              "none": {"type": "null"},
                              "score": {"type": "number"}},
               "required": ["name", "age"], "additionalProperties": False},
    "array": {"type": "array", "items": {"type": "integer", "exclusiveMinimum": -20,
                                         "exclusiveMaximum": 1000}, "minItems": 2, "maxItems": 4},
    "enum_const": {"type": "object",
                   "properties": {"kind": {"const": "point"},
                                  "color": {"enum": ["red", "green", 7, None, True, [1, 2]]},
                                  "typed": {"type": ["string", "null"], "enum": ["x", 1, None, "y"]}},
                   "required": ["kind", "color", "typed"]},
    "formats": {"type": "object",
                "properties": {"d": {"type": "string", "format": "date"},
                               "t": {"type": "string", "format": "time"},
                               "dt": {"type": "string", "format": "date-time"},
                               "id": {"type": "string", "format": "uuid"},
                               "mail": {"type": "string", "format": "email"}},
                "required": ["d", "t", "dt", "id", "mail"]},
    "refs": {"$defs": {"leaf": {"type": "string", "maxLength": 4},
                       "node": {"type": "object",
                                "properties": {"v": {"$ref": "#/$defs/leaf"},
                                               "kids": {"type": "array",
                                                        "items": {"$ref": "#/$defs/node"},
                                                        "maxItems": 2}},
                                "required": ["v"]}},
             "type": "object", "properties": {"root": {"$ref": "#/$defs/node"}},
             "required": ["root"]},
    "anyof": {"type": "array", "maxItems": 3,
              "items": {"anyOf": [{"type": "integer", "minimum": -5, "maximum": -1},
                                  {"type": "string", "maxLength": 3},
                                  {"type": "array", "items": {"type": "boolean"}, "maxItems": 2}]}},
    "oneof_types": {"type": "object",
                    "properties": {"x": {"oneOf": [{"type": "integer", "minimum": 10, "maximum": 99},
                                                   {"type": "null"}]},
                                   "y": {"type": ["string", "integer", "null"], "maxLength": 5,
                                         "minimum": 3, "maximum": 123456}},
                    "required": ["x", "y"]},
    "bounded_ints": {"type": "array", "minItems": 3, "maxItems": 3,
                     "items": {"type": "integer", "minimum": 99, "maximum": 1234}},
}


def lib():
    path = os.path.join(BUILD, "libtinylm.so")
    L = ctypes.CDLL(path)
    P, I, S = ctypes.c_void_p, ctypes.c_int32, ctypes.c_size_t
    L.tlm_tokenizer_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(P), P]
    L.tlm_tokenizer_load_llama2c.argtypes = [ctypes.c_char_p, I, ctypes.POINTER(P), P]
    L.tlm_tokenizer_n_vocab.argtypes = [P]
    L.tlm_tokenizer_n_vocab.restype = I
    L.tlm_tokenizer_eos.argtypes = [P]
    L.tlm_tokenizer_eos.restype = I
    L.tlm_token_piece.argtypes = [P, I, I, ctypes.POINTER(S)]
    L.tlm_token_piece.restype = ctypes.POINTER(ctypes.c_char)
    L.tlm_grammar_from_json_schema.argtypes = [ctypes.c_char_p, ctypes.POINTER(P), P]
    L.tlm_grammar_parse.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(P), P]
    L.tlm_grammar_vocab_create.argtypes = [P, ctypes.POINTER(P), P]
    L.tlm_sampler_create.argtypes = [P, I, ctypes.POINTER(P), P]
    L.tlm_sampler_set_grammar.argtypes = [P, P, P, P]
    L.tlm_sampler_sample.argtypes = [P, ctypes.POINTER(ctypes.c_float)]
    L.tlm_sampler_sample.restype = I
    L.tlm_sampler_grammar_accept.argtypes = [P, I, P]
    L.tlm_sampler_reset.argtypes = [P]
    L.tlm_sampler_free.argtypes = [P]
    L.tlm_grammar_free.argtypes = [P]
    L.tlm_grammar_vocab_free.argtypes = [P]
    L.tlm_tokenizer_free.argtypes = [P]
    L.tlm_json_schema_to_gbnf.argtypes = [ctypes.c_char_p, ctypes.c_char_p, S, ctypes.POINTER(S), P]
    return L


class Err(ctypes.Structure):
    _fields_ = [("status", ctypes.c_int), ("message", ctypes.c_char * 256)]


class SamplerParams(ctypes.Structure):
    _fields_ = [("temperature", ctypes.c_float), ("top_k", ctypes.c_int32), ("top_p", ctypes.c_float),
                ("min_p", ctypes.c_float), ("repeat_penalty", ctypes.c_float),
                ("presence_penalty", ctypes.c_float), ("frequency_penalty", ctypes.c_float),
                ("repeat_last_n", ctypes.c_int32), ("logit_bias", ctypes.c_void_p),
                ("n_logit_bias", ctypes.c_int32), ("seed", ctypes.c_uint64)]


def random_logit_runs(L, tok, label, n_runs, max_tokens, schemas):
    """n_runs seeded generations per schema from random logits; each must end (EOS) within
    max_tokens and validate."""
    import numpy as np
    n_vocab = L.tlm_tokenizer_n_vocab(tok)
    eos = L.tlm_tokenizer_eos(tok)
    vocab = ctypes.c_void_p()
    err = Err()
    if L.tlm_grammar_vocab_create(tok, ctypes.byref(vocab), ctypes.byref(err)) != 0:
        check("%s: grammar vocabulary" % label, False, err.message.decode())
        return
    pieces = {}
    for name, schema in schemas.items():
        g = ctypes.c_void_p()
        st = L.tlm_grammar_from_json_schema(json.dumps(schema).encode(), ctypes.byref(g), ctypes.byref(err))
        if st != 0:
            check("%s %s: converts" % (label, name), False, err.message.decode())
            continue
        good, bad = 0, []
        for seed in range(n_runs):
            sp = SamplerParams(1.0, 0, 1.0, 0.0, 1.0, 0.0, 0.0, 0, None, 0, seed)
            s = ctypes.c_void_p()
            L.tlm_sampler_create(ctypes.byref(sp), n_vocab, ctypes.byref(s), None)
            L.tlm_sampler_set_grammar(s, g, vocab, None)
            rng = np.random.default_rng(1000 + seed)
            out = b""
            ended = False
            for _ in range(max_tokens):
                logits = rng.normal(0.0, 3.0, n_vocab).astype(np.float32)
                tid = L.tlm_sampler_sample(s, logits.ctypes.data_as(ctypes.POINTER(ctypes.c_float)))
                if tid < 0:
                    break
                if tid == eos:
                    ended = True
                    break
                if L.tlm_sampler_grammar_accept(s, tid, None) != 0:
                    break
                if tid not in pieces:
                    n = ctypes.c_size_t()
                    p = L.tlm_token_piece(tok, -1, tid, ctypes.byref(n))
                    pieces[tid] = ctypes.string_at(p, n.value)
                out += pieces[tid]
            L.tlm_sampler_free(s)
            try:
                v = json.loads(out.decode("utf-8"))
                errs = validate(v, schema, schema) if ended else ["no EOS in %d tokens" % max_tokens]
            except (ValueError, UnicodeDecodeError) as e:
                errs = ["does not parse: %s" % e]
            if errs:
                bad.append((seed, out[:120], errs[:2]))
            else:
                good += 1
        L.tlm_grammar_free(g)
        check("%s %s: %d/%d random-logit generations parse and validate" % (label, name, good, n_runs),
              good == n_runs, str(bad[:2]))
    L.tlm_grammar_vocab_free(vocab)


def test_random_logits(L):
    tok = ctypes.c_void_p()
    if not os.path.exists(TOK512):
        testlib.missing("stories260K tok512.bin", len(SCHEMAS))
    elif L.tlm_tokenizer_load_llama2c(TOK512.encode(), 512, ctypes.byref(tok), None) == 0:
        random_logit_runs(L, tok, "tok512", 50, 600, SCHEMAS)
        L.tlm_tokenizer_free(tok)
    if not os.path.exists(LLAMA2):
        testlib.missing("llama2 tokenizer.model", 1)
        return
    tok = ctypes.c_void_p()
    if L.tlm_tokenizer_load(LLAMA2.encode(), ctypes.byref(tok), None) == 0:
        random_logit_runs(L, tok, "llama2-32k", 4, 400, SCHEMAS)
        L.tlm_tokenizer_free(tok)


def test_stories(tmp):
    if not os.path.exists(STORIES):
        testlib.missing("stories260K", 1)
        return
    for name in ("object", "refs", "formats"):
        schema = SCHEMAS[name]
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(schema, f)
        good, bad = 0, []
        n = 5
        for seed in range(n):
            r = subprocess.run([GEN, "-m", STORIES, "-z", TOK512, "--json-schema", path, "-n", "400",
                                "--seed", str(seed), "-t", "1", "--temp", "1", "--top-k", "0", "--top-p", "1"],
                               capture_output=True, timeout=120)
            try:
                v = json.loads(r.stdout.decode("utf-8"))
                errs = validate(v, schema, schema)
            except (ValueError, UnicodeDecodeError) as e:
                errs = ["does not parse: %s" % e]
            if r.returncode != 0 or b"incomplete" in r.stderr:
                errs.append("rc %d %s" % (r.returncode, r.stderr[-200:]))
            if errs:
                bad.append((seed, r.stdout[:100], errs[:2]))
            else:
                good += 1
        check("stories260K %s: %d/%d generations parse and validate" % (name, good, n), good == n, str(bad[:2]))


def test_cli_errors(tmp):
    bad_schema = os.path.join(tmp, "bad.json")
    with open(bad_schema, "w") as f:
        json.dump({"type": "object", "properties": {"a": {"type": "string", "pattern": "^x"}}}, f)
    r = subprocess.run([GEN, "-m", STORIES, "-z", TOK512, "--json-schema", bad_schema, "-n", "5"],
                       capture_output=True, timeout=60)
    check("an unsupported keyword is refused by name",
          testlib.refused(r.returncode, testlib.EXIT_FAILURE) and b"unsupported keyword 'pattern' at #/properties/a" in r.stderr,
          r.stderr.decode()[-200:])
    bad_gbnf = os.path.join(tmp, "bad.gbnf")
    with open(bad_gbnf, "w") as f:
        f.write("root ::= item+\nitem ::= \"a\" | [b-\n")
    r = subprocess.run([GEN, "-m", STORIES, "-z", TOK512, "--grammar", bad_gbnf, "-n", "5"],
                       capture_output=True, timeout=60)
    check("a bad grammar is refused with line and column",
          testlib.refused(r.returncode, testlib.EXIT_FAILURE) and b"line 2, column 16" in r.stderr,
          r.stderr.decode()[-200:])
    good_gbnf = os.path.join(tmp, "ab.gbnf")
    with open(good_gbnf, "w") as f:
        f.write("root ::= (\"ab\" | [0-9]) (\" \" [xyz]{1,3}){2} \".\"\n")
    outs = set()
    ok = True
    for seed in range(6):
        r = subprocess.run([GEN, "-m", STORIES, "-z", TOK512, "--grammar", good_gbnf, "-n", "50",
                            "--seed", str(seed)], capture_output=True, timeout=60)
        text = r.stdout.decode("utf-8").strip("\n")
        outs.add(text)
        ok = ok and r.returncode == 0 and re.fullmatch(r"(ab|[0-9])( [xyz]{1,3}){2}\.", text) is not None
    check("--grammar output matches the grammar (a regex of the same language)", ok, repr(outs))


def test_converter(L):
    """Refusals name the keyword and where; the any-value grammar (schema NULL) exists."""
    cases = [({"type": "string", "pattern": "a+"}, "unsupported keyword 'pattern' at #"),
             ({"type": "array", "uniqueItems": True}, "unsupported keyword 'uniqueItems' at #"),
             ({"allOf": [{"type": "string"}]}, "unsupported keyword 'allOf' at #"),
             ({"type": "number", "minimum": 1}, "'minimum' on a non-integer number at #"),
             ({"type": "object", "properties": {"a": {"type": "integer", "multipleOf": 2}}},
              "unsupported keyword 'multipleOf' at #/properties/a"),
             ({"$ref": "http://x/y.json"}, "only '#', '#/$defs/NAME'"),
             ({"type": "string", "format": "hostname"}, "format 'hostname'"),
             ({"enum": [1, 2], "minimum": 2}, "'minimum' beside enum/const at #"),
             ({"type": "string", "enum": [1, 2]}, "no enum/const value at # has the 'type'")]
    for schema, want in cases:
        n = ctypes.c_size_t()
        err = Err()
        st = L.tlm_json_schema_to_gbnf(json.dumps(schema).encode(), None, 0, ctypes.byref(n), ctypes.byref(err))
        check("refuses %s" % json.dumps(schema)[:50], st != 0 and want in err.message.decode(), err.message.decode())
    # a map (additionalProperties as a schema; keys are unbounded strings, so it is checked
    # by matching here rather than by random generation, which rarely closes a key)
    L.tlm_grammar_match.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_bool), ctypes.POINTER(ctypes.c_bool), ctypes.c_void_p]
    schema = {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 9},
              "description": "an annotation, ignored"}
    g = ctypes.c_void_p()
    st = L.tlm_grammar_from_json_schema(json.dumps(schema).encode(), ctypes.byref(g), None)
    texts = [(b'{}', True), (b'{"a": 1, "b c": 9}', True), (b' {"x":0}\n', True), (b'{"a": 10}', False),
             (b'{"a": -1}', False), (b'{"a": 1,}', False), (b'{a: 1}', False), (b'{"a": "1"}', False)]
    ok = st == 0
    for t, want in texts:
        pre, full = ctypes.c_bool(), ctypes.c_bool()
        L.tlm_grammar_match(g, t, len(t), ctypes.byref(pre), ctypes.byref(full), None)
        ok = ok and full.value == want and (not want or not validate(json.loads(t), schema, schema))
    check("a map schema's grammar matches exactly the hand-picked valid texts", ok)
    L.tlm_grammar_free(g)
    # integer bounds: every integer in a window matches exactly when it is in range
    bounds = [{"minimum": -37, "maximum": 1234}, {"minimum": 99, "maximum": 100},
              {"exclusiveMinimum": -1, "exclusiveMaximum": 1000}, {"minimum": 7},
              {"maximum": -12}, {"minimum": -205, "maximum": -9}, {"minimum": 0, "maximum": 0},
              {"minimum": 10, "exclusiveMinimum": 19, "maximum": 5000, "exclusiveMaximum": 301}]
    for bnd in bounds:
        schema = dict(bnd, type="integer")
        g = ctypes.c_void_p()
        ok = L.tlm_grammar_from_json_schema(json.dumps(schema).encode(), ctypes.byref(g), None) == 0
        wrong = []
        for n in list(range(-1300, 1300)) + [5000, 12345, 10 ** 15, -10 ** 15]:
            t = str(n).encode()
            full = ctypes.c_bool()
            L.tlm_grammar_match(g, t, len(t), None, ctypes.byref(full), None)
            if full.value != (not validate(n, schema, schema)):
                wrong.append(n)
        for t in (b"01", b"-0", b"007", b"1.5", b"+1"):
            full = ctypes.c_bool()
            L.tlm_grammar_match(g, t, len(t), None, ctypes.byref(full), None)
            if full.value:
                wrong.append(t)
        L.tlm_grammar_free(g)
        check("integer bounds %s: the grammar matches exactly the integers in range" % bnd,
              ok and not wrong, str(wrong[:8]))
    n = ctypes.c_size_t()
    st = L.tlm_json_schema_to_gbnf(None, None, 0, ctypes.byref(n), None)
    buf = ctypes.create_string_buffer(n.value + 1)
    st2 = L.tlm_json_schema_to_gbnf(None, buf, n.value + 1, ctypes.byref(n), None)
    check("the any-value grammar converts", st2 == 0 and b"root ::=" in buf.value)


def main():
    so = os.path.join(BUILD, "libtinylm.so")
    rerun = testlib.rerun_with_asan_preloaded(so, __file__) if os.path.exists(so) else None
    if rerun is not None:
        return rerun
    validator_selftest()
    if not os.path.exists(os.path.join(BUILD, "libtinylm.so")):
        testlib.missing("libtinylm.so in " + BUILD, 1)
        return testlib.finish("grammar", passed, failed)
    L = lib()
    test_converter(L)
    with tempfile.TemporaryDirectory() as tmp:
        test_cli_errors(tmp)
        test_stories(tmp)
    test_random_logits(L)
    return testlib.finish("grammar", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
