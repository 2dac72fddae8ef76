#!/usr/bin/python3
"""test_server.py - tlm-server (the OpenAI-compatible HTTP server) with the real stories260K
weights, on free loopback ports.

Expected texts come from build/tlm-generate (greedy, same prompt tokens: -p for completions,
--template zephyr --system S -p U for chats), never from the server itself. Checked:

- the official openai npm client (tests/server/client.mjs, with tests/server/node_modules
  from `npm ci`): models.list, chat and completion (greedy text equals tlm-generate's,
  response shape, usage), chat streaming with include_usage (role chunk first, text, final
  finish_reason, usage chunk), stop strings streamed and not, 8 concurrent clients with
  different prompts and max_tokens each getting its own greedy text, seeded sampling,
  an AbortController abort mid-stream freeing the slot at once, a wrong key giving
  AuthenticationError, n = 9 (over --max-n) giving BadRequestError. Without node or node_modules each of
  these cases is a skip (a failure under CI), with the reason;
- curl: a prompt given as token ids (against tlm-generate --tokens), content as text parts,
  unknown fields ignored, then 30+ malformed or refused requests, each with its status code
  (400, 401, 404, 405, 413) and the API's error object, and /health answering after each;
- the slot queue (--parallel 1 --queue-limit 1): a second request waits, a third gets 503,
  a queued client that leaves is dropped from the queue, a non-streaming client that leaves
  frees its slot, and the server serves again afterwards;
- continuous batching (--parallel 4 --prompt-chunk 3 --queue-limit 16): 12 concurrent
  completions with prompts of different lengths and max_tokens, all slots decoded in one
  batched pass per token and prompts joining in chunks of 3 tokens: each gets its own greedy
  text (no request lost or answered twice), /health answers while they run, every slot is
  idle afterwards; then three concurrent prompts extending an earlier request's prompt get
  their greedy text while starting from its cached prefix (the server's count of reused
  prompt tokens);
- SIGTERM: the server exits with status 0 (under ASan this includes no leaks), and its log
  holds no sanitizer report.
Last line: "test_server: N passed, M failed, K skipped".
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import testlib
from server_lib import CLIENT_DIR, MODEL, SERVER, Server, generate, health, http, wait_health
import server_lib

KEY = "sk-test-0123456789"
EOS = 2  # stories260K's SentencePiece vocabulary: </s>
LONG = 8000  # tokens of a request meant to run until it is stopped (EOS banned)

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    if ok:
        passed += 1
    else:
        failed += 1


def client_cases():
    """How many checks tests/server/client.mjs makes (its distinct check names)."""
    import re
    with open(os.path.join(CLIENT_DIR, "client.mjs"), encoding="utf-8") as f:
        names = set(re.findall(r'^\s*check\("([^"]+)"', f.read(), re.M))
    return max(len(names), 1)


def skip(name, why):
    testlib.missing("%s: %s" % (name, why), client_cases())


def expect_completion(prompt, n):
    return {"prompt": prompt, "max_tokens": n, "expected": generate(["-p", prompt, "-n", str(n)])}


def expect_chat(system, user, n):
    text = generate(["--template", "zephyr", "--system", system, "-p", user, "-n", str(n)])
    return {"messages": [{"role": "system", "content": system},
                         {"role": "user", "content": user}],
            "max_tokens": n, "expected": text}


def section(name, fn, *args):
    """Runs one group of checks; an exception (a server that died) counts as one failure."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - any crash here is a test failure, not an abort
        check("%s ran to the end" % name, False, "%s: %s" % (type(e).__name__, e))
        return None


def curl(srv, path, data=None, method=None, key=KEY, headers=(), extra=()):
    """server_lib.curl with this test's key unless told otherwise."""
    return server_lib.curl(srv, path, data, method, key, headers, extra)


def is_error_object(body):
    try:
        e = json.loads(body)["error"]
        return isinstance(e["message"], str) and e["type"] and "param" in e and "code" in e
    except (ValueError, KeyError, TypeError):
        return False


CHAT_OK = {"model": "x", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4}


def chat_with(**fields):
    body = dict(CHAT_OK)
    body.update(fields)
    return json.dumps(body).encode()


def malformed_cases():
    """(name, path, method, body bytes or None, key, expected status)."""
    long_prompt = " ".join(["word"] * 20000)
    deep = b'{"messages": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    return [
        ("unknown route", "/v1/nothing", "POST", b"{}", KEY, 404),
        ("unknown route GET", "/nope", "GET", None, KEY, 404),
        ("GET on chat", "/v1/chat/completions", "GET", None, KEY, 405),
        ("DELETE on models", "/v1/models", "DELETE", None, KEY, 405),
        ("POST on health", "/health", "POST", b"{}", KEY, 405),
        ("no API key", "/v1/chat/completions", "POST", chat_with(), None, 401),
        ("wrong API key", "/v1/chat/completions", "POST", chat_with(), "sk-wrong", 401),
        ("models without key", "/v1/models", "GET", None, None, 401),
        ("empty body", "/v1/chat/completions", "POST", b"", KEY, 400),
        ("truncated JSON", "/v1/chat/completions", "POST", b'{"messages": [', KEY, 400),
        ("trailing garbage", "/v1/chat/completions", "POST", chat_with() + b"}x", KEY, 400),
        ("JSON array body", "/v1/chat/completions", "POST", b"[1, 2]", KEY, 400),
        ("NaN literal", "/v1/chat/completions", "POST",
         chat_with().replace(b'"max_tokens": 4', b'"temperature": NaN'), KEY, 400),
        ("deep nesting", "/v1/chat/completions", "POST", deep, KEY, 400),
        ("not UTF-8", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "user", "content": "XX"}]).replace(b"XX", b"\xff\xfe"),
         KEY, 400),
        ("lone surrogate escape", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "user", "content": "XX"}]).replace(b"XX", b"\\ud800"),
         KEY, 400),
        ("messages missing", "/v1/chat/completions", "POST", b'{"model": "x"}', KEY, 400),
        ("messages not an array", "/v1/chat/completions", "POST", chat_with(messages="hi"),
         KEY, 400),
        ("messages empty", "/v1/chat/completions", "POST", chat_with(messages=[]), KEY, 400),
        ("too many messages", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "user", "content": "a"}] * 17), KEY, 400),
        ("unknown role", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "wizard", "content": "a"}]), KEY, 400),
        ("content a number", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "user", "content": 5}]), KEY, 400),
        ("user content null", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "user", "content": None}]), KEY, 400),
        ("image content part", "/v1/chat/completions", "POST",
         chat_with(messages=[{"role": "user", "content": [
             {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}]), KEY, 400),
        ("temperature a string", "/v1/chat/completions", "POST", chat_with(temperature="hot"),
         KEY, 400),
        ("temperature 3", "/v1/chat/completions", "POST", chat_with(temperature=3), KEY, 400),
        ("temperature 1e999", "/v1/chat/completions", "POST",
         chat_with(temperature=1).replace(b'"temperature": 1', b'"temperature": 1e999'), KEY,
         400),
        ("top_p 0", "/v1/chat/completions", "POST", chat_with(top_p=0), KEY, 400),
        ("max_tokens 0", "/v1/chat/completions", "POST", chat_with(max_tokens=0), KEY, 400),
        ("max_tokens 2.5", "/v1/chat/completions", "POST", chat_with(max_tokens=2.5), KEY, 400),
        ("max_tokens 1e300", "/v1/chat/completions", "POST", chat_with(max_tokens=1e300), KEY,
         400),
        ("max_tokens over the limit", "/v1/chat/completions", "POST",
         chat_with(max_tokens=LONG + 1), KEY, 400),
        ("prompt past the context", "/v1/completions", "POST",
         json.dumps({"prompt": long_prompt}).encode(), KEY, 400),
        ("n = 9 (over --max-n)", "/v1/chat/completions", "POST", chat_with(n=9), KEY, 400),
        ("five stop strings", "/v1/chat/completions", "POST",
         chat_with(stop=["a", "b", "c", "d", "e"]), KEY, 400),
        ("stop a number", "/v1/chat/completions", "POST", chat_with(stop=5), KEY, 400),
        ("logit_bias key not an id", "/v1/chat/completions", "POST",
         chat_with(logit_bias={"abc": 1}), KEY, 400),
        ("logit_bias id out of range", "/v1/chat/completions", "POST",
         chat_with(logit_bias={"99999": 1}), KEY, 400),
        ("logit_bias value 1000", "/v1/chat/completions", "POST",
         chat_with(logit_bias={"5": 1000}), KEY, 400),
        ("presence_penalty 5", "/v1/chat/completions", "POST", chat_with(presence_penalty=5),
         KEY, 400),
        ("seed a string", "/v1/chat/completions", "POST", chat_with(seed="x"), KEY, 400),
        ("stream a string", "/v1/chat/completions", "POST", chat_with(stream="yes"), KEY, 400),
        ("stream_options without stream", "/v1/chat/completions", "POST",
         chat_with(stream_options={"include_usage": True}), KEY, 400),
        ("logprobs not a boolean", "/v1/chat/completions", "POST", chat_with(logprobs=1), KEY,
         400),
        ("completion prompt missing", "/v1/completions", "POST", b'{"max_tokens": 3}', KEY, 400),
        ("completion prompt list holding a number", "/v1/completions", "POST",
         json.dumps({"prompt": ["a", 5]}).encode(), KEY, 400),
        ("completion prompt id out of range", "/v1/completions", "POST",
         json.dumps({"prompt": [1, 99999]}).encode(), KEY, 400),
        ("completion prompt an object", "/v1/completions", "POST",
         json.dumps({"prompt": {}}).encode(), KEY, 400),
        ("body over --max-body", "/v1/completions", "POST",
         json.dumps({"prompt": "a" * (2 << 20)}).encode(), KEY, 413),
    ]


def run_malformed(srv):
    for name, path, method, body, key, want in malformed_cases():
        status, out = curl(srv, path, data=body, method=method, key=key)
        check("curl %s -> %d" % (name, want), status == want and is_error_object(out),
              "got %d %s" % (status, out[:200]))
        st, _ = health(srv)
        if st != 200:
            check("server alive after '%s'" % name, False, "health %s" % st)
            return False
    # A body over the limit sent chunked (no Content-Length): read, dropped, then 413.
    big = json.dumps({"prompt": "a" * (2 << 20)}).encode()
    status, out = curl(srv, "/v1/completions", data=big, headers=["Transfer-Encoding: chunked"])
    check("curl chunked body over --max-body -> 413", status == 413 and is_error_object(out),
          "got %d" % status)
    st, _ = health(srv)
    check("server still serving after every malformed request", st == 200, "health %s" % st)
    return True


def run_accepted(srv):
    """Requests that must succeed: ids prompt, text parts, unknown fields, developer role."""
    ids = [1, 403, 407, 261, 378]
    want = generate(["--tokens", ",".join(map(str, ids)), "-n", "20"])
    st, r = http(srv.url + "/v1/completions", {"prompt": ids, "max_tokens": 20,
                                                "temperature": 0}, key=KEY)
    check("prompt as token ids equals tlm-generate --tokens", st == 200 and
          r["choices"][0]["text"] == want, "%s %s want %r" % (st, r, want))
    st, r2 = http(srv.url + "/v1/completions", {"prompt": [ids], "max_tokens": 20,
                                                 "temperature": 0}, key=KEY)
    check("prompt as an array of one id array", st == 200 and r2["choices"][0]["text"] == want,
          "%s %s" % (st, r2))
    c = expect_chat("You tell stories.", "Tell me a story", 24)
    parts = [{"type": "text", "text": "Tell me "}, {"type": "text", "text": "a story"}]
    st, r = http(srv.url + "/v1/chat/completions", {
        "model": "anything", "messages": [{"role": "developer", "content": "You tell stories."},
                                          {"role": "user", "content": parts}],
        "max_tokens": 24, "temperature": 0, "some_future_field": {"x": [1]}, "user": "u1",
        "n": 1, "stop": None, "logprobs": False}, key=KEY)
    check("text parts, developer role and unknown fields: same greedy text", st == 200 and
          r["choices"][0]["message"]["content"] == c["expected"], "%s %s" % (st, r))
    st, r = http(srv.url + "/v1/completions", {"prompt": "Once upon a time",
                                                "max_tokens": 300, "temperature": 0,
                                                "logit_bias": {str(EOS): -100}}, key=KEY)
    check("logit_bias -100 on EOS: runs to max_tokens", st == 200 and
          r["choices"][0]["finish_reason"] == "length" and
          r["usage"]["completion_tokens"] == 300, "%s %s" % (st, r and r.get("usage")))
    plain = expect_completion("Once upon a time", 60)["expected"]
    st, r = http(srv.url + "/v1/completions", {"prompt": "Once upon a time", "max_tokens": 60,
                                                "temperature": 0, "presence_penalty": 2,
                                                "frequency_penalty": 2}, key=KEY)
    check("presence/frequency penalties change the greedy text", st == 200 and
          r["choices"][0]["text"] != plain, "%s %s" % (st, r))
    st, h = health(srv)
    check("/health without a key", st == 200 and h["status"] == "ok", "%s %s" % (st, h))


def run_client(srv, cfg_path):
    node = shutil.which("node")
    if not node:
        skip("openai client cases", "node is not installed")
        return False
    ver = subprocess.run([node, "--version"], capture_output=True).stdout.decode().strip()
    if int((ver.lstrip("v").split(".") + ["0"])[0] or 0) < 18:
        skip("openai client cases", "node %s is older than 18, which the openai client needs"
             % ver)
        return False
    if not os.path.isdir(os.path.join(CLIENT_DIR, "node_modules", "openai")):
        skip("openai client cases", "tests/server/node_modules is missing (npm ci in tests/server)")
        return False
    try:
        p = subprocess.run([node, os.path.join(CLIENT_DIR, "client.mjs"), cfg_path],
                           capture_output=True, timeout=300, cwd=CLIENT_DIR)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
        err = p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        out, rc, err = "", -1, "timed out"
    n_lines = 0
    for line in out.splitlines():
        if line.startswith("ok   ") or line.startswith("FAIL "):
            n_lines += 1
            name, _, detail = line[5:].partition(" -- ")
            check("openai client: " + name, line.startswith("ok"), detail)
        elif line.startswith("info "):
            print(line)
    if rc != 0 and (n_lines == 0 or not any(l.startswith("FAIL") for l in out.splitlines())):
        check("openai client ran", False, "exit %s: %s" % (rc, err[-800:]))
    return True


def run_queue(log_dir):
    """One slot and a queue of one: wait, 503, leaving the queue, leaving a running request."""
    srv = Server(["--parallel", "1", "--queue-limit", "1", "--threads-per-slot", "1",
                  "-c", str(LONG + 64),
                  "--max-tokens-limit", str(LONG)], os.path.join(log_dir, "queue.log"))
    if not srv.port:
        check("queue server starts", False, srv.log_text()[-500:])
        srv.stop()
        return
    long_req = json.dumps({"prompt": "Once upon a time", "max_tokens": LONG, "temperature": 0,
                           "logit_bias": {str(EOS): -100}})
    def bg():
        return subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-d", long_req,
                                 srv.url + "/v1/completions"])
    a = bg()
    ok, h = wait_health(srv, lambda h: h["slots_processing"] == 1, 10)
    b = bg()
    ok2, h2 = wait_health(srv, lambda h: h["queue"] == 1, 10)
    check("queue: a second request waits for the busy slot", ok and ok2, "%s %s" % (h, h2))
    status, out = curl(srv, "/v1/completions", data=long_req.encode(), key=None)
    check("queue: past --queue-limit -> 503 with an error object",
          status == 503 and is_error_object(out), "got %d %s" % (status, out[:200]))
    b.kill()
    b.wait()
    ok, h = wait_health(srv, lambda h: h["queue"] == 0 and h["slots_processing"] == 1, 3)
    check("queue: a waiting client that leaves is dropped from the queue", ok, str(h))
    a.kill()
    a.wait()
    t0 = time.time()
    ok, h = wait_health(srv, lambda h: h["slots_idle"] == 1, 3)
    check("queue: a non-streaming client that leaves frees its slot (%.0f ms)"
          % (1000 * (time.time() - t0)), ok, str(h))
    st, r = http(srv.url + "/v1/completions", {"prompt": "Once", "max_tokens": 5})
    check("queue: serving again afterwards", st == 200, "%s %s" % (st, r))
    rc = srv.stop()
    check("queue server exits cleanly on SIGTERM", rc == 0,
          "exit %s: %s" % (rc, srv.log_text()[-1500:]))


def run_batching(log_dir):
    """Many clients at once through the batched passes, prompts split into chunks."""
    prompts = ["Once upon a time", "The cat", "Lily and Ben", "One day, a little bird",
               "Tom had a big red ball", "The sun", "A girl named Sue liked to play",
               "There was a tree", "Max", "The dog ran to the park and saw", "Mom said",
               "In the garden"]
    cases = [expect_completion(p, 10 + 7 * (i % 5)) for i, p in enumerate(prompts)]
    srv = Server(["--parallel", "4", "--prompt-chunk", "3", "--queue-limit", "16",
                  "--threads-per-slot", "1", "-c", "256"], os.path.join(log_dir, "batch.log"))
    if not srv.port:
        check("batching server starts", False, srv.log_text()[-500:])
        srv.stop()
        return
    got = [None] * len(cases)

    def one(i):
        got[i] = http(srv.url + "/v1/completions", {"prompt": cases[i]["prompt"],
                                                    "max_tokens": cases[i]["max_tokens"],
                                                    "temperature": 0}, timeout=120)
    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(cases))]
    for t in threads:
        t.start()
    st, h = health(srv)
    check("batching: /health answers while 12 requests run", st == 200 and h["status"] == "ok",
          "%s %s" % (st, h))
    for t in threads:
        t.join(180)
    bad = []
    for i, c in enumerate(cases):
        st, r = got[i] or (None, None)
        text = r["choices"][0]["text"] if st == 200 and r else None
        if text != c["expected"]:
            bad.append("%d %r: %s %r want %r" % (i, c["prompt"], st, text, c["expected"]))
    check("batching: 12 concurrent requests on 4 slots, prompts in chunks of 3: each its own "
          "greedy text", not bad, "; ".join(bad)[:1500])
    ok, h = wait_health(srv, lambda h: h.get("slots_idle") == 4 and h.get("queue") == 0, 3)
    check("batching: every slot idle afterwards", ok, str(h))
    # a shared prefix: one request, then three at once that extend its prompt; their prompts
    # start from the cached prefix (copied between sequences) and still give the greedy text
    base = "Once upon a time, there was a little girl named Lily. She loved to play"
    shared = [expect_completion(base, 12)] + [expect_completion(base + x, 15) for x in
                                              (" with her toys", " outside", " in the park")]
    bad = []
    st, r = http(srv.url + "/v1/completions", {"prompt": base, "max_tokens": 12,
                                                "temperature": 0}, timeout=120)
    if not (st == 200 and r["choices"][0]["text"] == shared[0]["expected"]):
        bad.append("first: %s %s" % (st, r))
    res = [None] * 3

    def ext(i):
        res[i] = http(srv.url + "/v1/completions", {"prompt": shared[i + 1]["prompt"],
                                                    "max_tokens": 15, "temperature": 0},
                      timeout=120)
    threads = [threading.Thread(target=ext, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    for i in range(3):
        st, r = res[i] or (None, None)
        if not (st == 200 and r["choices"][0]["text"] == shared[i + 1]["expected"]):
            bad.append("%r: %s %s want %r" % (shared[i + 1]["prompt"], st, r,
                                               shared[i + 1]["expected"]))
    check("batching: prompts extending a cached prefix give their greedy text", not bad,
          "; ".join(bad)[:1500])
    rc = srv.stop()
    m = re.search(r"(\d+) prompt tokens reused", srv.log_text())
    check("batching: the shared prefix was reused, not evaluated again (%s tokens)"
          % (m.group(1) if m else "?"), m and int(m.group(1)) >= 3 * 15, srv.log_text()[-500:])
    check("batching server exits cleanly on SIGTERM", rc == 0,
          "exit %s: %s" % (rc, srv.log_text()[-1500:]))


N_CASES = 93  # the checks main() makes with everything present


def main():
    if not os.path.exists(MODEL):
        testlib.missing(MODEL, N_CASES)
        return testlib.finish("server", passed, failed)
    if not os.path.exists(SERVER) or not shutil.which("curl"):
        testlib.missing("%s or curl" % SERVER, N_CASES)
        return testlib.finish("server", passed, failed)
    tmp = tempfile.mkdtemp(prefix="tlm-server-test-")
    chats = [expect_chat("You tell stories.", "Tell me a story", 40),
             expect_chat("You are a cat.", "Hi", 30),
             expect_chat("Be kind.", "What is the sun?", 16),
             expect_chat("You tell stories.", "Once there was a dog", 48)]
    completions = [expect_completion("Once upon a time", 30),
                   expect_completion("The cat", 45),
                   expect_completion("Lily and Ben", 20),
                   expect_completion("One day, a little bird", 60)]
    full = expect_completion("Once upon a time", 40)
    cut = full["expected"].find("Lily")
    stop_case = {"prompt": "Once upon a time", "max_tokens": 40, "stop": ["Lily", "zzz"],
                 "expected": full["expected"][:cut]}
    cfg = {"base_url": None, "api_key": KEY, "model": "stories260K.gguf",
           "chat": chats[:2], "completion": completions[:1], "completion_stop": stop_case,
           "concurrent": [chats[0], completions[1], chats[2], completions[2], chats[3],
                          completions[3], chats[1], completions[0]],
           "eos": EOS, "long_tokens": LONG}
    check("expectations: the stop string occurs in the greedy text", cut > 0, full["expected"])

    srv = Server(["--template", "zephyr", "--api-key", KEY, "--parallel", "4",
                  "--queue-limit", "16", "-c", str(LONG + 64), "--max-tokens-limit", str(LONG),
                  "--max-messages", "16"], os.path.join(tmp, "server.log"))
    check("server starts on a free port and prints it", srv.port is not None,
          srv.log_text()[-800:])
    if srv.port:
        cfg["base_url"] = srv.url
        cfg_path = os.path.join(tmp, "client.json")
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
        if section("openai client", run_client, srv, cfg_path):
            log = srv.log_text()
            check("server log: the aborted stream was stopped early",
                  "client gone" in log or "closed early" in log, log[-600:])
        section("accepted requests", run_accepted, srv)
        section("malformed requests", run_malformed, srv)
        ok, h = wait_health(srv, lambda h: h.get("slots_idle") == h.get("slots_total"), 3)
        check("every slot idle at the end", ok, str(h))
    alive = srv.proc.poll() is None
    rc = srv.stop()
    check("server alive to the end and exits cleanly on SIGTERM", alive and rc == 0,
          "exit %s: %s" % (rc, srv.log_text()[-1500:]))
    section("slot queue", run_queue, tmp)
    section("continuous batching", run_batching, tmp)
    shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("server", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
