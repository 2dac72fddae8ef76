#!/usr/bin/python3
"""test_server_srv15.py - tlm-server under concurrent load (issue 15): a bounded soak, n > 1
choices, lists of prompts, and tlm-loadgen's counts; real stories260K weights.

Expected texts come from tlm-generate (greedy, the same prompt text), never from the server.
- soak: 16 concurrent streaming clients against --parallel 4 (so requests queue), a warm-up
  round and then 3 rounds, one client in four aborting its second request mid-stream: every
  finished request's text equals its prompt's greedy text, each ends with exactly one
  finish_reason and one [DONE], the count of finished requests is exactly the count sent
  minus the aborted ones (nothing lost or answered twice); /health answers 200 "ok" to every
  poll of a thread polling it throughout; all slots are idle afterwards; the server's VmRSS
  (/proc/PID/status) after the soak is within RSS_TOL of its VmRSS after the warm-up round
  (4 MiB; under ASan the server runs with an 8 MiB quarantine and the tolerance is 24 MiB);
- n and lists through curl: a list of 2 prompts with n = 2 gives 4 choices, index
  prompt * 2 + c, each its prompt's greedy text at temperature 0, usage counting each prompt
  once; n over --max-n, more choices than slots, a bad list element and logprobs with
  several choices are 400 naming the field; three n = 3 requests sent together with three n = 1 ones on 4 slots all finish
  (a request takes all its slots at once, so none holds part of them while waiting);
- the official openai npm client (tests/server/srv15.mjs): list prompts (whole and
  streamed), chat n = 2 (whole and streamed) equal to the greedy text, seeded n = 3
  reproducible, choice 0 equal to n = 1 with that seed, choices not all equal; LangChain's
  OpenAI LLM generate() with two prompts (one list request) giving each its greedy text;
- tlm-loadgen: 3 clients x 2 requests of max_tokens 8 count 6 requests, 0 errors and 6 times
  one request's completion_tokens (its usage from a non-streaming request), in text and
  --json form, for completions and chat; a host that is not loopback is refused (exit 2).
Last line: "test_server_srv15: N passed, M failed, K skipped".
"""

import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import testlib
from server_lib import BUILD, CLIENT_DIR, GENERATE, MODEL, SERVER, Server, generate

LOADGEN = os.path.join(BUILD, "tlm-loadgen")
SLOTS = 4
CLIENTS = 16
ROUNDS = 3
MIB = 1 << 20

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    sys.stdout.flush()
    if ok:
        passed += 1
    else:
        failed += 1


def under_asan():
    p = subprocess.run(["readelf", "-d", SERVER], capture_output=True, text=True)
    if "libasan" in p.stdout:
        return True
    p = subprocess.run(["nm", SERVER], capture_output=True, text=True)
    return "__asan_init" in p.stdout


def post(port, path, body, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        raw = r.read()
        try:
            return r.status, json.loads(raw)
        except ValueError:
            return r.status, None
    finally:
        c.close()


def get(port, path, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, json.loads(r.read())
    except (OSError, ValueError) as e:
        return None, {"error": str(e)}
    finally:
        c.close()


def stream(port, prompt, max_tokens, abort_after=None):
    """A streaming completion: {"text", "finishes", "dones", "aborted"}; with abort_after,
    the connection is closed after that many events with text."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out = {"text": "", "finishes": [], "dones": 0, "aborted": False, "status": None}
    try:
        c.request("POST", "/v1/completions", json.dumps(
            {"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True}),
            {"Content-Type": "application/json"})
        r = c.getresponse()
        out["status"] = r.status
        events = 0
        while True:
            line = r.readline()
            if not line:
                break
            line = line.decode("utf-8").strip()
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                out["dones"] += 1
                continue
            ev = json.loads(data)
            for ch in ev.get("choices", []):
                if ch.get("text"):
                    out["text"] += ch["text"]
                    events += 1
                if ch.get("finish_reason"):
                    out["finishes"].append(ch["finish_reason"])
            if abort_after is not None and events >= abort_after:
                out["aborted"] = True
                break
    finally:
        c.close()
    return out


PROMPTS = [("Once upon a time", 24), ("The little dog", 16), ("Lily and Ben", 20),
           ("One day, a big", 12), ("The sun was", 8), ("Tom had a red", 18)]


def soak(srv, expected):
    port = srv.port
    health = {"polls": 0, "bad": []}
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            st, h = get(port, "/health")
            health["polls"] += 1
            if st != 200 or h.get("status") != "ok":
                health["bad"].append((st, h))
            time.sleep(0.05)

    poller = threading.Thread(target=poll)
    poller.start()
    lock = threading.Lock()
    results = []  # (prompt index, result)

    def client(ci, rounds, aborting):
        for r in range(rounds):
            pi = (ci + r) % len(PROMPTS)
            prompt, n = PROMPTS[pi]
            abort = 2 if aborting and r == 1 else None
            try:
                res = stream(port, prompt, n, abort)
            except Exception as e:  # noqa: BLE001 - a broken stream is a counted failure
                res = {"error": "%s: %s" % (type(e).__name__, e)}
            with lock:
                results.append((pi, res))

    def round_of(rounds, with_aborts):
        threads = [threading.Thread(target=client, args=(ci, rounds, with_aborts and ci % 4 == 0))
                   for ci in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)

    round_of(1, False)  # warm-up: every slot used, the allocator's pools made
    warm = list(results)
    check("warm-up: %d streams, each its prompt's greedy text" % CLIENTS,
          len(warm) == CLIENTS and all("error" not in r and r["text"] == expected[pi]
                                       for pi, r in warm),
          str([(pi, r) for pi, r in warm if "error" in r or r["text"] != expected[pi]][:2]))
    idle_ok, _ = wait_idle(port)
    rss_warm = srv.rss()
    del results[:]
    round_of(ROUNDS, True)
    stop.set()
    poller.join()
    n_abort = sum(1 for ci in range(CLIENTS) if ci % 4 == 0)
    sent = CLIENTS * ROUNDS
    done = [(pi, r) for pi, r in results if "error" not in r and not r["aborted"]]
    aborted = [r for _, r in results if "error" not in r and r["aborted"]]
    errors = [r for _, r in results if "error" in r]
    check("soak: %d requests sent, %d aborted mid-stream, %d finished, no errors"
          % (sent, n_abort, sent - n_abort),
          len(results) == sent and len(aborted) == n_abort and len(done) == sent - n_abort
          and not errors, "results %d aborted %d done %d errors %s"
          % (len(results), len(aborted), len(done), errors[:2]))
    wrong = [(PROMPTS[pi][0], r["text"], expected[pi]) for pi, r in done
             if r["text"] != expected[pi]]
    check("soak: every finished request equals its own greedy single-request text",
          not wrong, str(wrong[:2]))
    once = [r for _, r in done if r["dones"] != 1 or len(r["finishes"]) != 1
            or r["status"] != 200]
    check("soak: each finished stream has one finish_reason and one [DONE] (none duplicated)",
          not once, str(once[:2]))
    check("soak: /health answered 200 ok to every poll (%d polls)" % health["polls"],
          health["polls"] > 0 and not health["bad"], str(health["bad"][:3]))
    idle_ok2, h = wait_idle(port)
    check("soak: every slot idle afterwards (aborted streams released theirs)",
          idle_ok and idle_ok2, str(h))
    rss_end = srv.rss()
    grew = (rss_end or 0) - (rss_warm or 0)
    check("soak: server VmRSS flat (%.1f MiB after warm-up, %+.2f MiB at the end, tolerance "
          "%d MiB)" % ((rss_warm or 0) / MIB, grew / MIB, RSS_TOL // MIB),
          rss_warm is not None and rss_end is not None and grew <= RSS_TOL,
          "warm %s end %s" % (rss_warm, rss_end))


def wait_idle(port, seconds=30):
    t0 = time.time()
    h = None
    while time.time() - t0 < seconds:
        st, h = get(port, "/health")
        if st == 200 and h.get("slots_idle") == SLOTS and h.get("queue") == 0:
            return True, h
        time.sleep(0.05)
    return False, h


def choices_curl(srv, expected):
    port = srv.port
    (p0, n0), (p1, _) = PROMPTS[0], PROMPTS[1]
    st, r = post(port, "/v1/completions", {"prompt": [p0, p1], "max_tokens": n0, "n": 2,
                                           "temperature": 0})
    ch = sorted(r.get("choices", []), key=lambda c: c["index"]) if st == 200 else []
    e0 = generate(["-p", p0, "-n", str(n0)])
    e1 = generate(["-p", p1, "-n", str(n0)])
    check("list of 2 prompts x n = 2: 4 choices indexed 0..3",
          [c["index"] for c in ch] == [0, 1, 2, 3], "%s %s" % (st, r))
    check("list x n: choice prompt * 2 + c is that prompt's greedy text",
          [c["text"] for c in ch] == [e0, e0, e1, e1], str([c["text"] for c in ch]))
    s0 = post(port, "/v1/completions", {"prompt": p0, "max_tokens": n0, "temperature": 0})[1]
    s1 = post(port, "/v1/completions", {"prompt": p1, "max_tokens": n0, "temperature": 0})[1]
    u = r.get("usage", {}) if st == 200 else {}
    check("list x n: usage counts each prompt once and every choice's tokens",
          u.get("prompt_tokens") == s0["usage"]["prompt_tokens"] + s1["usage"]["prompt_tokens"]
          and u.get("completion_tokens") == 2 * (s0["usage"]["completion_tokens"]
                                                 + s1["usage"]["completion_tokens"]), str(u))
    # requests that each need 3 of the 4 slots, sent together with single ones: a request
    # waits for all its slots at once, so none can hold part of them and block another
    outs = [None] * 6

    def one(i):
        n = 3 if i % 2 == 0 else 1
        outs[i] = post(port, "/v1/completions", {"prompt": p0, "max_tokens": n0, "n": n,
                                                 "temperature": 0}, timeout=240)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    texts = [[c["text"] for c in o[1]["choices"]] if o and o[0] == 200 else o for o in outs]
    check("3 requests of n = 3 and 3 of n = 1 at once on 4 slots: all answered, greedy texts",
          texts == [[e0] * 3, [e0]] * 3, str(texts)[:300])
    for name, body, param in [
            ("n over --max-n", {"prompt": p0, "n": 5, "max_tokens": 2}, "n"),
            ("n = 0", {"prompt": p0, "n": 0, "max_tokens": 2}, "n"),
            ("3 prompts x n = 2 > 4 slots", {"prompt": [p0, p1, p0], "n": 2, "max_tokens": 2},
             "n"),
            ("5 prompts > 4 slots", {"prompt": [p0] * 5, "max_tokens": 2}, "prompt"),
            ("a list element that is an object", {"prompt": [p0, {}], "max_tokens": 2},
             "prompt"),
            ("an empty id array in a list", {"prompt": [p0, []], "max_tokens": 2}, "prompt"),
            ("logprobs with n = 2", {"prompt": p0, "n": 2, "max_tokens": 2, "logprobs": 1},
             "logprobs"),
            ("logprobs with a list", {"prompt": [p0, p1], "max_tokens": 2, "logprobs": 1},
             "logprobs")]:
        st, r = post(port, "/v1/completions", body)
        err = (r or {}).get("error", {})
        check("400 for %s, naming '%s'" % (name, param),
              st == 400 and err.get("param") == param, "%s %s" % (st, r))
    return e0, e1


def run_node(srv, tmp, expected):
    names = 14  # the checks srv15.mjs makes
    node = shutil.which("node")
    if not node:
        testlib.missing("openai client cases (srv15.mjs): node is not installed", names)
        return
    if not os.path.isdir(os.path.join(CLIENT_DIR, "node_modules", "openai")):
        testlib.missing("openai client cases (srv15.mjs): tests/server/node_modules is missing "
                        "(npm ci in tests/server)", names)
        return
    (p0, n0), (p1, _) = PROMPTS[0], PROMPTS[1]
    single = [post(srv.port, "/v1/completions", {"prompt": p, "max_tokens": n0,
                                                 "temperature": 0})[1]["usage"]
              for p in (p0, p1)]
    chat_msgs = [{"role": "system", "content": "You tell stories."},
                 {"role": "user", "content": "Tell me a story."}]
    chat_expected = generate(["--template", "zephyr", "--system", "You tell stories.", "-p",
                              "Tell me a story.", "-n", "12"])
    chat_usage = post(srv.port, "/v1/chat/completions", {"messages": chat_msgs, "max_tokens": 12,
                                                         "temperature": 0})[1]["usage"]
    cfg = {"base_url": "http://127.0.0.1:%d" % srv.port, "sampled_tokens": 24,
           "prompts": [{"prompt": p, "max_tokens": n0, "expected": generate(["-p", p, "-n",
                                                                             str(n0)]),
                        "n_prompt": u["prompt_tokens"], "n_gen": u["completion_tokens"]}
                       for p, u in ((p0, single[0]), (p1, single[1]))],
           "chat": {"messages": chat_msgs, "max_tokens": 12, "expected": chat_expected,
                    "n_prompt": chat_usage["prompt_tokens"]}}
    path = os.path.join(tmp, "srv15.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.run([node, os.path.join(CLIENT_DIR, "srv15.mjs"), path], capture_output=True,
                       timeout=300, cwd=CLIENT_DIR)
    seen = 0
    for line in p.stdout.decode(errors="replace").splitlines():
        if line.startswith("ok   ") or line.startswith("FAIL "):
            seen += 1
            check("openai client: " + line[5:].split(" -- ")[0], line.startswith("ok   "),
                  line.split(" -- ", 1)[-1] if " -- " in line else "")
    check("openai client script ran every case (%d of %d) and exited 0" % (seen, names),
          seen == names and p.returncode == 0, p.stderr.decode(errors="replace")[-600:])


def run_loadgen(srv):
    port = srv.port
    p0 = PROMPTS[4][0]
    for chat in (False, True):
        path = "/v1/chat/completions" if chat else "/v1/completions"
        body = ({"messages": [{"role": "user", "content": p0}]} if chat else {"prompt": p0})
        body.update({"max_tokens": 8, "temperature": 0})
        one = post(port, path, body)[1]["usage"]["completion_tokens"]
        args = [LOADGEN, "--port", str(port), "--clients", "3", "--requests", "2", "-n", "8",
                "-p", p0, "--time-limit", "300"] + (["--chat"] if chat else [])
        p = subprocess.run(args + ["--json"], capture_output=True, timeout=300)
        try:
            j = json.loads(p.stdout)
        except ValueError:
            j = {}
        check("tlm-loadgen --json %s: 6 requests, 6 ok, 0 errors, 6 x %d tokens"
              % (path, one), p.returncode == 0 and j.get("requests") == 6 and j.get("ok") == 6
              and j.get("errors") == 0 and j.get("tokens") == 6 * one
              and j.get("tokens_per_s", 0) > 0 and j.get("ttft_p50_ms", -1) >= 0,
              "rc %d %s %s" % (p.returncode, p.stdout[:300], p.stderr[-300:]))
    p = subprocess.run([LOADGEN, "--port", str(port), "--clients", "2", "--requests", "1", "-n",
                        "4", "-p", p0], capture_output=True, timeout=300)
    out = p.stdout.decode(errors="replace")
    check("tlm-loadgen text summary: requests, tokens/s, TTFT and inter-token lines",
          p.returncode == 0 and "2 requests (2 ok, 0 errors)" in out and "tokens/s" in out
          and "TTFT" in out and "inter-token" in out, out)
    p = subprocess.run([LOADGEN, "--host", "192.0.2.1", "--port", str(port)],
                       capture_output=True, timeout=30)
    check("tlm-loadgen refuses a host that is not loopback (exit 2)",
          testlib.refused(p.returncode, testlib.EXIT_USAGE) and b"only connects" in p.stderr,
          "rc %d" % p.returncode)


def main():
    global RSS_TOL
    for path in (MODEL, SERVER, GENERATE, LOADGEN):
        if not os.path.exists(path):
            testlib.missing("%s is missing" % path, 1)
            return testlib.finish("server_srv15", passed, failed)
    asan = under_asan()
    RSS_TOL = (24 if asan else 4) * MIB
    env = dict(os.environ)
    if asan:  # a small quarantine, so freed blocks come back within the tolerance
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=8"
    tmp = tempfile.mkdtemp(prefix="tlm-srv15-")
    srv = None
    try:
        expected = [generate(["-p", p, "-n", str(n)]) for p, n in PROMPTS]
        srv = Server(["--template", "zephyr", "--parallel", str(SLOTS), "--queue-limit", "64",
                      "--max-n", "4", "--threads-per-slot", "1", "-c", "256", "--quiet"],
                     os.path.join(tmp, "server.log"), env, stop_wait=60)
        check("server starts", srv.port is not None, srv.log_text()[-600:])
        if srv.port is None:
            return testlib.finish("server_srv15", passed, failed)
        for name, fn, args in (("soak", soak, (srv, expected)),
                               ("n and lists", choices_curl, (srv, expected)),
                               ("openai client", run_node, (srv, tmp, expected)),
                               ("tlm-loadgen", run_loadgen, (srv,))):
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - a dead server is one failure, not an abort
                check("%s ran to the end" % name, False, "%s: %s" % (type(e).__name__, e))
        rc = srv.stop()
        srv = None
        check("server exits 0 on SIGTERM", rc == 0, "rc %s" % rc)
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("server_srv15", passed, failed)


RSS_TOL = 4 * MIB

if __name__ == "__main__":
    sys.exit(main())
