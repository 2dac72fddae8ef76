#!/usr/bin/python3
"""test_server_slots.py - tlm-server's llama-server slot routes (tools/server/slot_files.c,
slot_pool_act in tools/server/slots.c): GET /slots and POST /slots/{id}?action=save|restore|
erase, with real stories260K weights, a temporary --slot-save-path, on free loopback ports.

Expected texts come from tlm-generate (greedy, the same prompt), never from the server.
- GET /slots: one object per slot with exactly id, n_ctx (-c), is_processing, n_cached; it
  needs the API key like the other routes (401 without);
- round trip: a greedy completion leaves its tokens in one slot (found by n_cached); save
  writes them (n_saved = n_cached, n_written = the file's size), erase empties the slot
  (n_erased = n_saved, n_cached 0), restore brings them back (n_restored = n_saved, n_read =
  n_written, n_cached again); the same prompt then gives the same greedy text and the
  reused-prefix counter (tlm_prompt_tokens_reused_total, /metrics) grows by at least the
  prompt's tokens - 1. The same restored into the other slot, every slot erased first;
- refusals, each with its status and /health answering after it: a non-numeric, negative,
  empty or too large slot id, an unknown or missing action (400), the wrong method (405), a
  body that is not JSON or over --max-body (400, 413), and for save and restore every bad
  filename (missing, empty, 256 bytes, '/', '\\', NUL, control bytes, ".", "..", a leading
  dot, not a string: 400 "Invalid filename"); a 255-byte name is saved. Restoring a missing
  file, random bytes or a truncated save is 400 with the library's message and leaves the
  slot empty. Afterwards the save directory holds exactly the files saved on purpose and
  nothing was created beside it;
- without --slot-save-path: save and restore are 501 not_supported_error naming the option,
  erase still works. A busy slot is waited for: an erase sent while a long stream generates
  gets no answer until the stream ends, then erases what the whole generation left
  (prompt + max_tokens - 1 tokens); an erase whose client leaves while waiting is dropped
  (the log says so) and the slot comes back idle;
- --slot-save-path naming no directory: the server refuses to start (exit 1).
Last line: "test_server_slots: N passed, M failed, K skipped".
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import testlib
from server_lib import GENERATE, MODEL, SERVER, Server, curl, generate, health, http

KEY = "slots-test-key"
PROMPT = "Once upon a time"
N_GEN = 16
BUSY_GEN = 1000  # tokens of the generation an erase waits for (about 0.5 s here)
BAD_NAMES = [("missing", None), ("empty", ""), ("256 bytes", "a" * 256),
             ("parent", "../escape.bin"), ("a folder", "sub/x.bin"),
             ("up and out", "sub/../../escape.bin"), ("backslash", "a\\b.bin"),
             ("NUL", "a\x00b.bin"), ("NUL at the end", "escape.bin\x00"),
             ("control byte", "a\x01b.bin"), ("newline", "a\nb.bin"), ("DEL", "a\x7fb.bin"),
             (".", "."), ("..", ".."), ("leading dot", ".hidden.bin"), ("a number", 5),
             ("null", "null"), ("a list", ["x.bin"])]

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + str(detail) if detail and not ok else ""))
    sys.stdout.flush()
    if ok:
        passed += 1
    else:
        failed += 1


def api(srv, path, body=None, method="POST", key=KEY):
    return http(srv.url + path, body, key=key, method=method)


def slot_list(srv, key=KEY):
    st, j = api(srv, "/slots", method="GET", key=key)
    return j if st == 200 and isinstance(j, list) else None


def n_cached(srv, key=KEY):
    sl = slot_list(srv, key) or []
    return [s.get("n_cached") for s in sl]


def wait_health(srv, field, tries, pause):
    """Polls /health until its `field` is 1 (the one slot): (True, the answer), or (False, the
    last answer) after `tries` polls `pause` seconds apart."""
    h = None
    for _ in range(tries):
        st, h = health(srv)
        if st == 200 and h.get(field) == 1:
            return True, h
        time.sleep(pause)
    return False, h


def reused(srv):
    """The reused-prefix counter from /metrics, or None."""
    req = urllib.request.Request(srv.url + "/metrics")
    req.add_header("Authorization", "Bearer " + KEY)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("tlm_prompt_tokens_reused_total "):
            return int(line.split()[1])
    return None


def alive(srv):
    st, h = health(srv)
    return st == 200 and isinstance(h, dict) and h.get("status") == "ok"


def complete(srv, key=KEY):
    st, j = api(srv, "/v1/completions", {"prompt": PROMPT, "max_tokens": N_GEN,
                                         "temperature": 0}, key=key)
    if st != 200:
        return None, None
    return j["choices"][0]["text"], j["usage"]


def message(j):
    return (j or {}).get("error", {}).get("message", "") if isinstance(j, dict) else ""


# ---- with --slot-save-path -----------------------------------------------------------------

def run_list(srv):
    sl = slot_list(srv)
    check("GET /slots: 200 and a list of 2", sl is not None and len(sl) == 2, sl)
    keys = {"id", "n_ctx", "is_processing", "n_cached"}
    check("GET /slots: each slot has exactly id, n_ctx, is_processing, n_cached",
          sl is not None and all(set(s) == keys for s in sl), sl)
    check("GET /slots: ids 0 and 1, n_ctx 256 (-c), idle, nothing cached at start",
          sl is not None and [s.get("id") for s in sl] == [0, 1]
          and all(s.get("n_ctx") == 256 and s.get("is_processing") is False
                  and s.get("n_cached") == 0 for s in sl), sl)
    st, _ = api(srv, "/slots", method="GET", key=None)
    check("GET /slots without the API key: 401", st == 401, st)
    st, _ = api(srv, "/slots/0?action=erase", key=None)
    check("POST /slots/0?action=erase without the API key: 401", st == 401, st)


def run_round_trip(srv, save):
    want = generate(["-p", PROMPT, "-n", str(N_GEN)])
    text, usage = complete(srv)
    check("a greedy completion gives tlm-generate's text", text == want, (text, want))
    if text is None:
        return
    n_prompt = usage["prompt_tokens"]
    cached = n_cached(srv)
    held = [i for i, n in enumerate(cached) if n]
    check("one slot holds the completion's tokens (at least its prompt)",
          len(held) == 1 and cached[held[0]] >= n_prompt, cached)
    if len(held) != 1:
        return
    s, other = held[0], 1 - held[0]
    st, j = api(srv, "/slots/%d?action=save" % s, {"filename": "one.bin"})
    path = os.path.join(save, "one.bin")
    size = os.path.getsize(path) if os.path.exists(path) else -1
    ok = st == 200 and isinstance(j, dict)
    check("save: 200 with id_slot, filename, n_saved = n_cached, n_written = the file's size",
          ok and j.get("id_slot") == s and j.get("filename") == "one.bin"
          and j.get("n_saved") == cached[s] and j.get("n_written") == size > 0, (st, j, size))
    check("save: timings.save_ms is a number >= 0",
          ok and isinstance(j.get("timings", {}).get("save_ms"), (int, float))
          and j["timings"]["save_ms"] >= 0, j)
    saved = j if ok else {}
    st, j = api(srv, "/slots/%d?action=erase" % s)
    check("erase: 200 with id_slot and n_erased = n_saved > 0",
          st == 200 and j == {"id_slot": s, "n_erased": saved.get("n_saved")}
          and j["n_erased"] > 0, (st, j))
    check("erase: the slot holds nothing", n_cached(srv)[s] == 0, n_cached(srv))
    r0 = reused(srv)
    st, j = api(srv, "/slots/%d?action=restore" % s, {"filename": "one.bin"})
    ok = st == 200 and isinstance(j, dict)
    check("restore: 200 with n_restored = n_saved, n_read = n_written",
          ok and j.get("id_slot") == s and j.get("filename") == "one.bin"
          and j.get("n_restored") == saved.get("n_saved")
          and j.get("n_read") == saved.get("n_written"), (st, j))
    check("restore: timings.restore_ms is a number >= 0",
          ok and isinstance(j.get("timings", {}).get("restore_ms"), (int, float))
          and j["timings"]["restore_ms"] >= 0, j)
    check("restore: n_cached is back", n_cached(srv)[s] == saved.get("n_saved"), n_cached(srv))
    text2, _ = complete(srv)
    r1 = reused(srv)
    check("after restore the same prompt gives the same text", text2 == text, (text2, text))
    check("after restore the prompt's prefix was reused (>= %d tokens)" % (n_prompt - 1),
          r0 is not None and r1 is not None and r1 - r0 >= n_prompt - 1, (r0, r1))

    # into the other slot, nothing else holding the prompt
    for i in (0, 1):
        api(srv, "/slots/%d?action=erase" % i)
    check("every slot erased", n_cached(srv) == [0, 0], n_cached(srv))
    r0 = reused(srv)
    st, j = api(srv, "/slots/%d?action=restore" % other, {"filename": "one.bin"})
    check("restore into the other slot: 200, n_restored = n_saved",
          st == 200 and j.get("id_slot") == other and j.get("n_restored") == saved.get("n_saved"),
          (st, j))
    c = n_cached(srv)
    check("restore into the other slot: it alone holds the tokens",
          len(c) == 2 and c[other] == saved.get("n_saved") and c[s] == 0, c)
    text3, _ = complete(srv)
    r1 = reused(srv)
    check("from the other slot: the same text", text3 == text, (text3, text))
    check("from the other slot: the prefix was reused (>= %d tokens)" % (n_prompt - 1),
          r0 is not None and r1 is not None and r1 - r0 >= n_prompt - 1, (r0, r1))


def refused(srv, name, path, body, want, method="POST", text=None):
    st, j = api(srv, path, body, method=method)
    ok = st == want and isinstance(j, dict) and "error" in j
    if text is not None:
        ok = ok and message(j) == text
    check("%s: %d, and /health answers" % (name, want), ok and alive(srv), (st, j))


def run_refusals(srv, save):
    refused(srv, "non-numeric slot id", "/slots/abc?action=save", {"filename": "x.bin"}, 400)
    refused(srv, "slot id past the slots", "/slots/2?action=erase", None, 400)
    refused(srv, "negative slot id", "/slots/-1?action=erase", None, 400)
    refused(srv, "empty slot id", "/slots/?action=erase", None, 400)
    refused(srv, "slot id with a suffix", "/slots/0x?action=erase", None, 400)
    refused(srv, "unknown action", "/slots/0?action=zap", {"filename": "x.bin"}, 400)
    refused(srv, "missing action", "/slots/0", {"filename": "x.bin"}, 400)
    refused(srv, "GET /slots/0", "/slots/0?action=erase", None, 405, method="GET")
    refused(srv, "POST /slots", "/slots", {"filename": "x.bin"}, 405)
    refused(srv, "save with a body that is not JSON", "/slots/0?action=save", b"{nope", 400)
    refused(srv, "save without a body", "/slots/0?action=save", None, 400)
    # curl: urllib would still be writing the body when the server answers and closes
    big = json.dumps({"filename": "x.bin", "pad": "a" * (1 << 20)}).encode()
    for how, headers in (("Content-Length", []), ("chunked", ["Transfer-Encoding: chunked"])):
        st, out = curl(srv, "/slots/0?action=save", data=big, key=KEY, headers=headers)
        check("save with a body over --max-body (%s): 413, and /health answers" % how,
              st == 413 and b'"error"' in out and alive(srv), (st, out[:200]))
    for action in ("save", "restore"):
        for name, fn in BAD_NAMES:
            body = {} if name == "missing" else {"filename": None if fn == "null" else fn}
            refused(srv, "%s with a filename %s" % (action, name), "/slots/0?action=" + action,
                    body, 400, text="Invalid filename")
    long_name = "b" * 255
    st, j = api(srv, "/slots/0?action=save", {"filename": long_name})
    check("save with a 255-byte filename: 200 and the file exists",
          st == 200 and os.path.exists(os.path.join(save, long_name)), (st, j))

    # a refused restore leaves the slot empty: fill slot 0 first each time
    with open(os.path.join(save, "one.bin"), "rb") as f:
        good = f.read()
    with open(os.path.join(save, "junk.bin"), "wb") as f:
        f.write(os.urandom(4096))
    with open(os.path.join(save, "trunc.bin"), "wb") as f:
        f.write(good[:len(good) // 2])
    for what, fn in (("a missing file", "nope.bin"), ("random bytes", "junk.bin"),
                     ("a truncated save", "trunc.bin")):
        st, j = api(srv, "/slots/0?action=restore", {"filename": "one.bin"})
        full = st == 200 and n_cached(srv)[0] > 0
        st, j = api(srv, "/slots/0?action=restore", {"filename": fn})
        check("restore of %s: 400 with the library's message, /health answers" % what,
              st == 400 and fn in message(j) and len(message(j)) > len(fn) + 30 and alive(srv),
              (st, j))
        check("restore of %s: the slot is left empty" % what,
              full and n_cached(srv)[0] == 0, (full, n_cached(srv)))

    names = sorted(os.listdir(save))
    check("the save directory holds exactly the files saved on purpose",
          names == sorted(["one.bin", long_name, "junk.bin", "trunc.bin"]), names)
    parent = os.path.dirname(save)
    check("nothing was written beside the save directory",
          sorted(os.listdir(parent)) == ["save", "server.log"]
          and not os.path.exists(os.path.join(os.path.dirname(parent), "escape.bin")),
          sorted(os.listdir(parent)))


# ---- without --slot-save-path --------------------------------------------------------------

def stalled_stream(port):
    """A long streaming completion (EOS banned) read only once the checks are done: it holds
    its slot while it generates, and longer once the socket's buffers fill. (Not a tiny
    SO_RCVBUF: below the loopback MSS the window reopens only by the sender's zero-window
    probes, whose backoff can stretch the stream past any timeout.)"""
    body = json.dumps({"prompt": PROMPT, "max_tokens": BUSY_GEN, "temperature": 0, "stream": True,
                       "logprobs": 5, "logit_bias": {"2": -100},
                       "stream_options": {"include_usage": True}}).encode()
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return s, s.recv(1024)


def read_all(s, data):
    while b"[DONE]" not in data:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    return data


def stream_usage(data):
    for line in data.split(b"\n"):
        if line.startswith(b"data: {") and b'"usage":{' in line:
            j = json.loads(line[6:])
            if not j.get("choices"):
                return j["usage"]
    return None


def run_no_dir(srv):
    for action in ("save", "restore"):
        st, j = http(srv.url + "/slots/0?action=" + action, {"filename": "x.bin"}, method="POST")
        err = (j or {}).get("error", {}) if isinstance(j, dict) else {}
        check("no --slot-save-path: %s is 501 not_supported_error naming the option" % action,
              st == 501 and err.get("type") == "not_supported_error"
              and "--slot-save-path" in err.get("message", "") and alive(srv), (st, j))
    text, usage = complete(srv, key=None)
    st, j = http(srv.url + "/slots/0?action=erase", method="POST")
    check("no --slot-save-path: erase works (n_erased > 0, then n_cached 0)",
          text is not None and st == 200 and j.get("n_erased", 0) >= usage["prompt_tokens"]
          and n_cached(srv, key=None) == [0], (st, j, n_cached(srv, key=None)))

    # a busy slot: the erase waits for the generation's end
    s, first = stalled_stream(srv.port)
    ok, h = wait_health(srv, "slots_processing", 200, 0.01)
    check("the stream holds the slot", ok, h)
    res = {}
    t = threading.Thread(target=lambda: res.update(r=http(srv.url + "/slots/0?action=erase",
                                                          method="POST", timeout=120)))
    t.start()
    gone = socket.create_connection(("127.0.0.1", srv.port))
    gone.sendall(b"POST /slots/0?action=erase HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    time.sleep(0.1)
    st, h = health(srv)
    check("an erase of the busy slot waits (no answer while the generation runs)",
          t.is_alive() and st == 200 and h.get("slots_processing") == 1, (res, h))
    gone.close()
    time.sleep(0.2)
    data = read_all(s, first)
    t.join(120)
    usage = stream_usage(data)
    st, j = res.get("r", (None, None))
    check("the held stream ends normally ([DONE], finish_reason length, %d tokens)" % BUSY_GEN,
          b"[DONE]" in data and b'"finish_reason":"length"' in data and usage is not None
          and usage.get("completion_tokens") == BUSY_GEN, data[-300:])
    check("the waiting erase then erased the whole generation (prompt + %d - 1 tokens)"
          % BUSY_GEN, st == 200 and usage is not None
          and j.get("n_erased") == usage["prompt_tokens"] + BUSY_GEN - 1,
          (st, j, usage, srv.log_text()[-800:]))
    ok, h = wait_health(srv, "slots_idle", 100, 0.05)
    check("the slot is idle and empty afterwards", ok and n_cached(srv, key=None) == [0],
          (h, n_cached(srv, key=None)))
    check("the erase whose client left while waiting was dropped (logged)",
          "client gone while the slot was busy" in srv.log_text(), srv.log_text()[-600:])


def run_bad_dir(tmp):
    for what, path in (("a missing directory", os.path.join(tmp, "missing")),
                       ("a file", os.path.join(tmp, "server.log"))):
        p = subprocess.run([SERVER, "-m", MODEL, "--port", "0", "--slot-save-path", path],
                           capture_output=True, timeout=60)
        check("--slot-save-path naming %s: exit 1 with a message" % what,
              p.returncode == 1 and b"--slot-save-path" in p.stderr, (p.returncode, p.stderr))


def main():
    for path in (MODEL, SERVER, GENERATE):
        if not os.path.exists(path):
            testlib.missing("%s is missing" % path, 1)
            return testlib.finish("server_slots", passed, failed)
    tmp = tempfile.mkdtemp(prefix="tlm-slots-")
    save = os.path.join(tmp, "save")
    os.mkdir(save)
    servers = []
    try:
        srv = Server(["--parallel", "2", "-c", "256", "--slot-save-path", save, "--metrics",
                      "--api-key", KEY], os.path.join(tmp, "server.log"))
        servers.append(srv)
        check("server with --slot-save-path starts", srv.port is not None, srv.log_text()[-600:])
        if srv.port is not None:
            for name, fn, args in (("list", run_list, (srv,)),
                                   ("round trip", run_round_trip, (srv, save)),
                                   ("refusals", run_refusals, (srv, save))):
                try:
                    fn(*args)
                except Exception as e:  # noqa: BLE001 - a dead server is one failure
                    check("%s ran to the end" % name, False, "%s: %s" % (type(e).__name__, e))
        no_dir = tempfile.mkdtemp(prefix="tlm-slots-nodir-")
        srv2 = Server(["--parallel", "1", "-c", "1024"], os.path.join(no_dir, "server.log"))
        servers.append(srv2)
        check("server without --slot-save-path starts", srv2.port is not None)
        if srv2.port is not None:
            try:
                run_no_dir(srv2)
            except Exception as e:  # noqa: BLE001
                check("without --slot-save-path ran to the end", False,
                      "%s: %s" % (type(e).__name__, e))
        run_bad_dir(tmp)
        for i, s in enumerate(servers):
            rc = s.stop()
            check("server %d exits 0 on SIGTERM" % (i + 1), rc == 0, "rc %s" % rc)
        servers = []
        shutil.rmtree(no_dir, ignore_errors=True)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("server_slots", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
