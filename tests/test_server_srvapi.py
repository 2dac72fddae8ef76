#!/usr/bin/python3
"""test_server_srvapi.py - tlm-server's endpoints beyond chat and completions (issue 17), with
the real stories260K weights on free loopback ports:

- CORS with curl: with --cors-origin, an OPTIONS preflight gets 204 with Allow-Origin, -Methods,
  -Headers (Authorization, Content-Type and what the preflight asked for) and -Max-Age; a
  matching Origin gets Access-Control-Allow-Origin on JSON answers, errors and SSE streams, a
  foreign one does not; without --cors-origin a preflight is the 405 of a wrong method;
- /tokenize and /detokenize against the tokenizer's own ids (tlm-tokenize --ids), pieces,
  the round trip back to the text, ids outside the vocabulary refused;
- /metrics: every line parsed by a strict Prometheus text-format (0.0.4) parser written here
  (HELP/TYPE before samples, sample syntax, label syntax), counters never decrease between two
  scrapes and count exactly the requests made between them; without --metrics it is 501;
- /v1/embeddings through the openai npm client (its default base64 encoding and float):
  length = hidden size, unit norm, same input same vector, equal to the hidden states of
  build/examples/embeddings --hidden-out mean-pooled and normalised with NumPy here;
- /v1/responses through the Vercel AI SDK's default provider (@ai-sdk/openai, Responses API):
  generateText and streamText give tlm-generate's greedy text for the same chat, with usage
  and finish reasons; the raw SSE events in order with sequence numbers (curl);
- logprobs: chat (openai client, whole and streamed) a greedy token is its own top
  alternative, exp(top_logprobs) sums to at most 1, the bytes spell the reply; completions'
  token_logprobs and top_logprobs equal NumPy's log-softmax of tlm-logits' raw logits;
- Retry-After on a 503 (--parallel 1 --queue-limit 0 while a request runs);
- bad input to each endpoint: a 400 with the API's error object, /health answering after each.
Last line: "test_server_srvapi: N passed, M failed, K skipped".
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

import testlib
from server_lib import BUILD, CLIENT_DIR, GENERATE, MODEL, SERVER, Server, curl, generate, http

KEY = "sk-srvapi"
EMBED = os.path.join(BUILD, "examples", "embeddings")
TOKENIZE = os.path.join(BUILD, "tlm-tokenize")
ORIGIN = "http://app.example"

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + str(detail)[:600] if detail and not ok
                                                 else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def section(name, fn, *args):
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - a crash here is one failure, not an abort
        import traceback
        check("%s ran to the end" % name, False, traceback.format_exc()[-800:])
        return None


def headers_of(srv, path, method="GET", data=None, headers=()):
    """(status, {lower-case header: value}, body) with curl -i."""
    cmd = ["curl", "-s", "-i", "--max-time", "60", "-X", method, "-H", "Authorization: Bearer "
           + KEY]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", data]
    p = subprocess.run(cmd + [srv.url + path], capture_output=True, timeout=90)
    raw = p.stdout
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return status, hdrs, body


def is_error(body):
    try:
        e = json.loads(body)["error"]
        return isinstance(e.get("message"), str) and e["message"] != "" and "type" in e
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def healthy(srv):
    st, h = http(srv.url + "/health", timeout=10)
    return st == 200 and isinstance(h, dict) and h.get("status") == "ok"


# ---- CORS ----------------------------------------------------------------------------------

def run_cors(srv, plain):
    st, h, _ = headers_of(srv, "/v1/chat/completions", "OPTIONS",
                          headers=["Origin: " + ORIGIN, "Access-Control-Request-Method: POST",
                                   "Access-Control-Request-Headers: x-stainless-os"])
    allow_h = [x.strip().lower() for x in h.get("access-control-allow-headers", "").split(",")]
    check("CORS preflight: 204 with the origin, methods, headers and max age",
          st == 204 and h.get("access-control-allow-origin") == ORIGIN
          and "POST" in h.get("access-control-allow-methods", "")
          and {"authorization", "content-type", "x-stainless-os"} <= set(allow_h)
          and int(h.get("access-control-max-age", "0")) > 0, (st, h))
    st, h, body = headers_of(srv, "/v1/completions", "POST",
                             json.dumps({"prompt": "Once", "max_tokens": 3}),
                             ["Origin: " + ORIGIN])
    check("CORS: Allow-Origin on a JSON answer", st == 200 and
          h.get("access-control-allow-origin") == ORIGIN, (st, h))
    st, h, body = headers_of(srv, "/v1/completions", "POST",
                             json.dumps({"prompt": "Once", "max_tokens": 3, "stream": True}),
                             ["Origin: " + ORIGIN])
    check("CORS: Allow-Origin on an SSE stream", st == 200 and
          h.get("access-control-allow-origin") == ORIGIN and b"[DONE]" in body, (st, h))
    st, h, body = headers_of(srv, "/v1/completions", "POST", "{", ["Origin: " + ORIGIN])
    check("CORS: Allow-Origin on an error", st == 400 and
          h.get("access-control-allow-origin") == ORIGIN, (st, h))
    st, h, _ = headers_of(srv, "/health", "GET", headers=["Origin: http://evil.example"])
    check("CORS: no Allow-Origin for an origin not configured", st == 200 and
          "access-control-allow-origin" not in h, h)
    st, h, _ = headers_of(plain, "/v1/chat/completions", "OPTIONS",
                          headers=["Origin: " + ORIGIN, "Access-Control-Request-Method: POST"])
    check("CORS off: a preflight is the 405 of a wrong method, no Allow-Origin",
          st == 405 and "access-control-allow-origin" not in h and h.get("allow") == "POST",
          (st, h))


# ---- /tokenize, /detokenize ----------------------------------------------------------------

def tokenizer_ids(text):
    p = subprocess.run([TOKENIZE, "-m", MODEL, "--ids", text], capture_output=True, timeout=60)
    return [int(x) for x in re.findall(r"-?\d+", p.stdout.decode())]


def run_tokenize(srv):
    text = "Once upon a time, there was a little girl named Lily."
    ref = tokenizer_ids(text)
    st, r = http(srv.url + "/tokenize", {"content": text}, key=KEY)
    check("/tokenize: the tokenizer's ids (tlm-tokenize --ids)", st == 200 and
          r.get("tokens") == ref and len(ref) > 5, (st, r, ref))
    st, r2 = http(srv.url + "/tokenize", {"content": text, "add_special": True,
                                          "with_pieces": True}, key=KEY)
    toks = r2.get("tokens", []) if st == 200 else []
    check("/tokenize add_special: BOS first", [t.get("id") for t in toks] == [1] + ref,
          (st, r2))
    check("/tokenize with_pieces: the pieces spell the text",
          "".join(t["piece"] for t in toks if isinstance(t.get("piece"), str)).strip() == text,
          toks[:5])
    st, d = http(srv.url + "/detokenize", {"tokens": [1] + ref}, key=KEY)
    check("/detokenize: back to the text", st == 200 and d.get("content") == text, (st, d))
    st, d = http(srv.url + "/detokenize", {"tokens": []}, key=KEY)
    check("/detokenize: no tokens, empty text", st == 200 and d.get("content") == "", (st, d))
    for ids in ([512], [-1], [1.5], [1, 2, 100000]):
        st, d = http(srv.url + "/detokenize", {"tokens": ids}, key=KEY)
        check("/detokenize %s: 400 (outside the vocabulary of 512)" % ids,
              st == 400 and is_error(json.dumps(d)), (st, d))


# ---- /metrics --------------------------------------------------------------------------------

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
SAMPLE = re.compile(r"^(%s)(\{(?:%s(?:,%s)*)?,?\})? ([-+]?(?:[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
                    r"|Inf|NaN))(?: -?[0-9]+)?$" % (NAME, LABEL, LABEL))


def parse_prometheus(text):
    """{(name, labels tuple): value}, {name: type}; raises ValueError on any bad line."""
    types, helps, samples = {}, {}, {}
    if not text.endswith("\n"):
        raise ValueError("the exposition must end with a newline")
    for i, line in enumerate(text[:-1].split("\n"), 1):
        if line.startswith("#"):
            m = re.match(r"^# (HELP|TYPE) (%s) (.*)$" % NAME, line)
            if not m:
                if re.match(r"^# (HELP|TYPE)\b", line):
                    raise ValueError("line %d: bad %r" % (i, line))
                continue  # a plain comment
            kind, name, rest = m.groups()
            if kind == "TYPE":
                if rest not in ("counter", "gauge", "histogram", "summary", "untyped"):
                    raise ValueError("line %d: unknown type %r" % (i, rest))
                if name in types:
                    raise ValueError("line %d: second TYPE for %s" % (i, name))
                if any(k[0] == name for k in samples):
                    raise ValueError("line %d: TYPE after samples of %s" % (i, name))
                types[name] = rest
            else:
                if name in helps:
                    raise ValueError("line %d: second HELP for %s" % (i, name))
                helps[name] = rest
            continue
        if not line.strip():
            raise ValueError("line %d: empty line" % i)
        m = SAMPLE.match(line)
        if not m:
            raise ValueError("line %d: bad sample %r" % (i, line))
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        if name not in types:
            raise ValueError("line %d: sample of %s before its TYPE" % (i, name))
        lab = tuple(sorted(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels)))
        if (name, lab) in samples:
            raise ValueError("line %d: duplicate series %s%s" % (i, name, labels))
        samples[(name, lab)] = float(value)
    return samples, types


def scrape(srv):
    st, h, body = headers_of(srv, "/metrics")
    return st, h, body.decode("utf-8")


def run_metrics(srv, plain):
    st, h, text = scrape(srv)
    ok = st == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4")
    try:
        s1, types = parse_prometheus(text)
    except ValueError as e:
        check("/metrics: every line is valid text format", False, "%s\n%s" % (e, text[:800]))
        return
    check("/metrics: 200, text/plain version=0.0.4, every line parses", ok, (st, h))
    for name in ("tlm_requests_total", "tlm_prompt_tokens_total", "tlm_generated_tokens_total",
                 "tlm_queue_length", "tlm_slots", "tlm_generated_tokens_per_second",
                 "tlm_prompt_tokens_per_second", "tlm_batch_passes_total",
                 "tlm_batch_tokens_total"):
        check("/metrics: %s declared" % name, name in types, sorted(types))
    check("/metrics: counters end in _total or _seconds_total, gauges do not",
          all(n.endswith("_total") == (t == "counter") for n, t in types.items()), types)
    slots = {dict(k[1]).get("state"): v for k, v in s1.items() if k[0] == "tlm_slots"}
    check("/metrics: slots idle/processing sum to --parallel",
          set(slots) == {"idle", "processing"} and slots["idle"] + slots["processing"] == 2,
          slots)
    # requests between two scrapes are counted exactly
    for _ in range(3):
        http(srv.url + "/tokenize", {"content": "hi"}, key=KEY)
    http(srv.url + "/detokenize", {"tokens": [9999]}, key=KEY)
    st_c, comp = http(srv.url + "/v1/completions", {"prompt": "Once", "max_tokens": 5,
                                                     "temperature": 0}, key=KEY)
    st, _, text2 = scrape(srv)
    try:
        s2, _ = parse_prometheus(text2)
    except ValueError as e:
        check("/metrics: the second scrape parses", False, e)
        return

    def req(s, ep, code):
        return s.get(("tlm_requests_total", (("endpoint", ep), ("status", code))), 0)
    check("/metrics: /tokenize 200 counted 3 times", req(s2, "/tokenize", "200")
          - req(s1, "/tokenize", "200") == 3, (req(s1, "/tokenize", "200"),
                                               req(s2, "/tokenize", "200")))
    check("/metrics: /detokenize 400 counted once", req(s2, "/detokenize", "400")
          - req(s1, "/detokenize", "400") == 1)
    gen = comp.get("usage", {}).get("completion_tokens", -1) if st_c == 200 else -1
    check("/metrics: generated tokens grew by the completion's usage",
          s2.get(("tlm_generated_tokens_total", ())) - s1.get(("tlm_generated_tokens_total", ()))
          == gen, gen)
    # the completion's tokens went through batched passes: at least one token a pass, and no
    # more than its prompt and its generated tokens (a cached prefix is not evaluated again)
    passes = s2.get(("tlm_batch_passes_total", ()), 0) - s1.get(("tlm_batch_passes_total", ()), 0)
    toks = s2.get(("tlm_batch_tokens_total", ()), 0) - s1.get(("tlm_batch_tokens_total", ()), 0)
    n_prompt = comp.get("usage", {}).get("prompt_tokens", -1) if st_c == 200 else -1
    check("/metrics: batch passes and tokens grew by the completion's (1 <= passes <= tokens "
          "<= prompt + generated)", 1 <= passes <= toks <= n_prompt + gen,
          (passes, toks, n_prompt, gen))
    counters = [k for k in s1 if types.get(k[0]) == "counter"]
    check("/metrics: no counter decreased between scrapes",
          counters and all(s2.get(k, -1) >= s1[k] for k in counters))
    st, _, _ = scrape(plain)
    check("/metrics without --metrics: 501", st == 501)


# ---- embeddings and the AI SDK (node) --------------------------------------------------------

def reference_embedding(text, tmp):
    out = os.path.join(tmp, "hidden.f32")
    p = subprocess.run([EMBED, MODEL, "-p", text, "--hidden-out", out], capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode(errors="replace"))
    size = int(re.search(rb"size: (\d+)", p.stdout).group(1))
    rows = np.fromfile(out, dtype="<f4").reshape(-1, size).astype(np.float64)
    v = rows.mean(axis=0)
    return v / np.linalg.norm(v)


def run_node(srv, tmp):
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(CLIENT_DIR, "node_modules", "@ai-sdk")):
        testlib.missing("node clients (node or tests/server/node_modules)", 20)
        return
    system, user, n = "You are a storyteller.", "Tell me about a cat.", 12
    p = subprocess.run([node, os.path.join(CLIENT_DIR, "srvapi.mjs"), srv.url, KEY, system, user,
                        str(n)], capture_output=True, timeout=240, cwd=CLIENT_DIR)
    try:
        out = json.loads(p.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        check("srvapi.mjs ran", False, p.stderr.decode(errors="replace")[-800:])
        return
    e = out.get("embed_default", {})
    ref1 = reference_embedding("Once upon a time", tmp)
    ref2 = reference_embedding(user, tmp)
    vecs = [np.array(d["embedding"]) for d in e.get("data", [])]
    check("openai embeddings.create (base64 by default): two vectors of the hidden size",
          len(vecs) == 2 and all(len(v) == len(ref1) for v in vecs), str(e)[:400])
    if len(vecs) == 2:
        check("embeddings: unit norm", all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vecs))
        check("embeddings: mean-pooled, normalised hidden states of examples/embeddings",
              np.abs(vecs[0] - ref1).max() < 1e-5 and np.abs(vecs[1] - ref2).max() < 1e-5,
              (np.abs(vecs[0] - ref1).max(), np.abs(vecs[1] - ref2).max()))
        f = out.get("embed_float", {}).get("data", [{}])[0].get("embedding", [])
        check("embeddings: float format, same input gives the same vector",
              len(f) == len(ref1) and np.abs(np.array(f) - vecs[0]).max() < 1e-6)
        ids = http(srv.url + "/tokenize", {"content": "Once upon a time", "add_special": True},
                   key=KEY)[1].get("tokens", [])
        check("embeddings: usage.prompt_tokens counts BOS and text of both inputs",
              e.get("usage", {}).get("prompt_tokens") == len(ids) + 1 + len(tokenizer_ids(user)),
              e.get("usage"))
    expected = generate(["--template", "zephyr", "--system", system, "-p", user, "-n", str(n)])
    g = out.get("generate", {})
    check("AI SDK generateText (/v1/responses): tlm-generate's greedy text",
          g.get("text") == expected, (g, expected))
    check("AI SDK generateText: finish 'length', usage output tokens = max",
          g.get("finishReason") == "length" and g.get("usage", {}).get("outputTokens") == n, g)
    s = out.get("stream", {})
    check("AI SDK streamText: the same text, in several deltas",
          "".join(s.get("parts", [])) == expected and len(s.get("parts", [])) > 1, s)
    check("AI SDK streamText: finish 'length' and usage",
          s.get("finishReason") == "length" and s.get("usage", {}).get("outputTokens") == n and
          s.get("usage", {}).get("inputTokens", 0) > 0, s)
    run_logprobs_node(out, n)
    gs = out.get("generate_stop", {})
    full = generate(["--template", "zephyr", "--system", system, "-p", user, "-n", "180"])
    used = gs.get("usage", {}).get("outputTokens", 0)
    check("AI SDK generateText to the end of turn: the text, finish 'stop' when it ended early",
          gs.get("text") == full and 0 < used <= 180 and
          gs.get("finishReason") == ("stop" if used < 180 else "length"), (gs, full))


def check_logprob_entries(name, entries, text, n_tokens, k):
    """Greedy chat entries: one per token, the token is its own top alternative, the
    alternatives' probabilities sum to at most 1, the tokens spell the text."""
    ok_shape = len(entries) == n_tokens and all(len(e["top_logprobs"]) == k for e in entries)
    check("%s: an entry per generated token, %d alternatives each" % (name, k), ok_shape,
          (len(entries), n_tokens))
    check("%s: greedy token = the top alternative, same logprob" % name, entries and all(
        e["top_logprobs"][0]["token"] == e["token"] and
        abs(e["top_logprobs"][0]["logprob"] - e["logprob"]) < 1e-6 and e["logprob"] <= 0
        for e in entries), entries[:2])
    check("%s: sum of exp(top_logprobs) <= 1, alternatives in order" % name, entries and all(
        sum(np.exp(t["logprob"]) for t in e["top_logprobs"]) <= 1 + 1e-6 and
        all(a["logprob"] >= b["logprob"] for a, b in zip(e["top_logprobs"],
                                                          e["top_logprobs"][1:]))
        for e in entries))
    check("%s: the bytes spell the reply" % name,
          bytes(b for e in entries for b in e["bytes"]).decode("utf-8", "replace") == text,
          text)


def run_logprobs_node(out, n):
    c = out.get("chat_logprobs", {})
    entries = (c.get("logprobs") or {}).get("content") or []
    check_logprob_entries("chat logprobs (openai client)", entries, c.get("content"),
                          c.get("usage", {}).get("completion_tokens"), 5)
    chunks = out.get("chat_logprobs_stream", [])
    sentries = [e for ch in chunks if ch.get("logprobs") for e in ch["logprobs"]["content"]]
    check_logprob_entries("chat logprobs streamed", sentries,
                          "".join(ch.get("delta", "") for ch in chunks), n, 3)
    check("chat logprobs streamed = not streamed", [e["logprob"] for e in sentries] ==
          [e["logprob"] for e in entries])


def logits_of(ids, tmp):
    path = os.path.join(tmp, "logits.f32")
    p = subprocess.run([os.path.join(BUILD, "tlm-logits"), "-m", MODEL, "--tokens",
                        ",".join(map(str, ids)), "-o", path, "-t", "1"], capture_output=True,
                       timeout=60)
    if p.returncode != 0:
        raise RuntimeError(p.stderr.decode(errors="replace"))
    return np.fromfile(path, dtype="<f4").reshape(len(ids), -1).astype(np.float64)


def run_logprobs_completions(srv, tmp):
    prompt = [1, 403, 407]  # BOS "Once upon"
    st, r = http(srv.url + "/v1/completions", {"prompt": prompt, "max_tokens": 3,
                                               "temperature": 0, "logprobs": 5}, key=KEY)
    lp = r["choices"][0]["logprobs"] if st == 200 else None
    check("completions logprobs: the legacy object with 3 tokens", lp is not None and
          len(lp["tokens"]) == len(lp["token_logprobs"]) == len(lp["top_logprobs"]) ==
          len(lp["text_offset"]) == 3, r)
    if not lp:
        return
    # NumPy's log-softmax of the engine's logits (tlm-logits), greedy step by step
    ids, want, want_top = list(prompt), [], []
    for _ in range(3):
        z = logits_of(ids, tmp)[-1]
        ls = z - (z.max() + np.log(np.exp(z - z.max()).sum()))
        nxt = int(np.argmax(z))
        want.append(ls[nxt])
        want_top.append(sorted(ls, reverse=True)[:5])
        ids.append(nxt)
    # within 0.01: the server decodes a token per pass through its F16 cache, tlm-logits
    # evaluates the whole sequence as one batch
    check("completions logprobs = log-softmax of the raw logits (NumPy)",
          np.abs(np.array(lp["token_logprobs"]) - np.array(want)).max() < 1e-2,
          (lp["token_logprobs"], want))
    check("completions top_logprobs: 5 each, the values of the 5 best (NumPy)", all(
        len(t) == 5 and np.abs(np.array(sorted(t.values(), reverse=True)) - np.array(w)).max()
        < 1e-2 for t, w in zip(lp["top_logprobs"], want_top)), (lp["top_logprobs"], want_top))
    text = r["choices"][0]["text"]
    check("completions text_offset: where each token starts in the text",
          lp["text_offset"][0] == 0 and all(
              text[o:].startswith(t) for o, t in zip(lp["text_offset"], lp["tokens"])),
          (lp, text))
    for body in ({"prompt": "x", "logprobs": 6}, {"prompt": "x", "logprobs": True},
                 {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2},
                 {"messages": [{"role": "user", "content": "x"}], "logprobs": True,
                  "top_logprobs": 21}, {"messages": [{"role": "user", "content": "x"}],
                                        "logprobs": 1}):
        path = "/v1/chat/completions" if "messages" in body else "/v1/completions"
        st, e = http(srv.url + path, body, key=KEY)
        check("logprobs bad %s: 400" % json.dumps(body)[:70], st == 400 and "error" in e, e)


def run_responses_raw(srv):
    st, body = curl(srv, "/v1/responses", json.dumps({"input": "Hi", "max_output_tokens": 4,
                                                      "stream": True}).encode(), key=KEY)
    events = re.findall(rb"event: (\S+)\ndata: (.*)\n\n", body)
    types = [e[0].decode() for e in events]
    datas = [json.loads(e[1]) for e in events]
    want = ["response.created", "response.output_item.added", "response.content_part.added"]
    tail = ["response.output_text.done", "response.content_part.done",
            "response.output_item.done", "response.incomplete"]
    check("responses stream: the API's events in order", st == 200 and types[:3] == want and
          types[-4:] == tail and all(t == "response.output_text.delta" for t in types[3:-4]),
          types)
    check("responses stream: sequence_number 0, 1, 2, ... and type = event",
          [d.get("sequence_number") for d in datas] == list(range(len(datas))) and
          all(d.get("type") == t for d, t in zip(datas, types)))
    deltas = "".join(d["delta"] for d, t in zip(datas, types) if t.endswith(".delta"))
    done = datas[-4].get("text") if len(datas) >= 4 else None
    check("responses stream: the deltas make the done text", deltas == done, (deltas, done))
    st, r = http(srv.url + "/v1/responses", {"input": [{"role": "user", "content": [
        {"type": "input_text", "text": "Hi"}]}], "max_output_tokens": 4, "temperature": 0},
        key=KEY)
    out = r.get("output", [{}])[0] if st == 200 else {}
    check("responses: object, message item with output_text, output_text, usage",
          st == 200 and r.get("object") == "response" and out.get("type") == "message" and
          out.get("role") == "assistant" and out["content"][0]["type"] == "output_text" and
          out["content"][0]["annotations"] == [] and r.get("output_text") ==
          out["content"][0]["text"] and r["usage"]["output_tokens"] == 4 and
          r["usage"]["total_tokens"] == r["usage"]["input_tokens"] + 4 and
          r.get("status") == "incomplete", r)


# ---- Retry-After ---------------------------------------------------------------------------

def run_retry_after(tmp):
    srv = Server(["--template", "zephyr", "--api-key", KEY, "--parallel", "1", "--queue-limit",
                  "0", "-c", "4096", "--max-tokens-limit", "4000"],
                 os.path.join(tmp, "busy.log"))
    if not srv.port:
        check("busy server starts", False, srv.log_text()[-500:])
        return
    body = json.dumps({"prompt": "Once", "max_tokens": 4000, "stream": True,
                       "logit_bias": {"2": -100}}).encode()
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
              KEY.encode() + b"\r\nContent-Type: application/json\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body)
    s.recv(1024)  # the stream has started: the only slot is busy
    st, h, b = headers_of(srv, "/v1/completions", "POST", json.dumps({"prompt": "x"}))
    check("503 when busy carries Retry-After (seconds) and the error object",
          st == 503 and h.get("retry-after", "").isdigit() and is_error(b), (st, h, b[:200]))
    s.close()
    ok = False
    for _ in range(100):
        st, hh = http(srv.url + "/health", timeout=10)
        if st == 200 and hh.get("slots_idle") == 1:
            ok = True
            break
        time.sleep(0.05)
    check("the slot comes back after the client leaves", ok)
    rc = srv.stop()
    check("busy server exits cleanly", rc == 0, srv.log_text()[-800:])


# ---- bad input -------------------------------------------------------------------------------

BAD = [
    ("/tokenize", b"{}"), ("/tokenize", b'{"content": 5}'),
    ("/tokenize", b'{"content": "x", "add_special": "yes"}'), ("/tokenize", b"[1]"),
    ("/tokenize", b"not json"), ("/tokenize", b""),
    ("/detokenize", b"{}"), ("/detokenize", b'{"tokens": "1 2"}'),
    ("/detokenize", b'{"tokens": [null]}'),
    ("/v1/embeddings", b"{}"), ("/v1/embeddings", b'{"input": ""}'),
    ("/v1/embeddings", b'{"input": []}'), ("/v1/embeddings", b'{"input": [[]]}'),
    ("/v1/embeddings", b'{"input": [1, 99999]}'), ("/v1/embeddings", b'{"input": {"a": 1}}'),
    ("/v1/embeddings", b'{"input": ["a", 3]}'),
    ("/v1/embeddings", b'{"input": "x", "encoding_format": "hex"}'),
    ("/v1/embeddings", b'{"input": "x", "dimensions": 3}'),
    ("/v1/embeddings", json.dumps({"input": [5] * 300}).encode()),  # longer than -c 256
    ("/v1/responses", b"{}"), ("/v1/responses", b'{"input": 5}'),
    ("/v1/responses", b'{"input": []}'),
    ("/v1/responses", b'{"input": [{"role": "robot", "content": "x"}]}'),
    ("/v1/responses", b'{"input": [{"type": "function_call_output", "output": "x"}]}'),
    ("/v1/responses", b'{"input": [{"role": "user"}]}'),
    ("/v1/responses", b'{"input": [{"role": "user", "content": [{"type": "input_image"}]}]}'),
    ("/v1/responses", b'{"input": "x", "previous_response_id": "resp_1"}'),
    ("/v1/responses", b'{"input": "x", "max_output_tokens": 0}'),
    ("/v1/responses", b'{"input": "x", "temperature": 3}'),
    ("/v1/responses", b'{"input": "x", "stream": "yes"}'),
    ("/v1/responses", b'{"input": "x", "instructions": 1}'),
]


def run_bad(srv):
    for path, data in BAD:
        st, body = curl(srv, path, data, key=KEY)
        check("bad %s %s: 400 with an error object, healthy after" % (path, data[:50]),
              st == 400 and is_error(body) and healthy(srv), (st, body[:300]))
    st, body = curl(srv, "/tokenize", key=KEY)
    check("GET /tokenize: 405", st == 405 and is_error(body), st)
    st, body = curl(srv, "/v1/embeddings", b'{"input": "x"}', key="wrong")
    check("/v1/embeddings with a wrong key: 401", st == 401 and is_error(body), st)


def main():
    for exe in (SERVER, GENERATE, EMBED, TOKENIZE):
        if not os.path.exists(exe):
            testlib.missing("%s not built" % exe, 1)
            return testlib.finish("server_srvapi", passed, failed)
    if not os.path.exists(MODEL):
        testlib.missing("stories260K.gguf (../shared)", 1)
        return testlib.finish("server_srvapi", passed, failed)
    tmp = tempfile.mkdtemp(prefix="tlm_srvapi_")
    srv = Server(["--template", "zephyr", "--api-key", KEY, "--parallel", "2", "-c", "256",
                  "--metrics", "--cors-origin", ORIGIN, "--cors-origin", "http://other.example"],
                 os.path.join(tmp, "server.log"))
    plain = Server(["--template", "zephyr", "--api-key", KEY, "--parallel", "1", "-c", "128"],
                   os.path.join(tmp, "plain.log"))
    check("servers start", srv.port is not None and plain.port is not None,
          srv.log_text()[-500:] + plain.log_text()[-500:])
    if srv.port and plain.port:
        section("cors", run_cors, srv, plain)
        section("tokenize", run_tokenize, srv)
        section("metrics", run_metrics, srv, plain)
        section("node clients", run_node, srv, tmp)
        section("responses", run_responses_raw, srv)
        section("completions logprobs", run_logprobs_completions, srv, tmp)
        section("bad input", run_bad, srv)
    for s, name in ((srv, "server"), (plain, "plain server")):
        alive = s.proc.poll() is None
        rc = s.stop()
        check("%s alive to the end, exits cleanly on SIGTERM" % name, alive and rc == 0,
              s.log_text()[-1500:])
    section("retry-after", run_retry_after, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("server_srvapi", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
