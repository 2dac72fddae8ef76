"""server_lib.py - what the tlm-server tests share (test_server.py, test_server_srv15.py,
test_server_srvapi.py, test_server_srvtools.py): the paths they run, tlm-generate's greedy
text (their expectations), a server started on a free loopback port and stopped with its log
checked for sanitizer reports, and small HTTP helpers (urllib, curl).

Importing it imports testlib, so every tool run through subprocess.run is watched.
"""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request

import testlib

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("TLM_BUILD", "build")
SHARED = os.environ.get("TLM_SHARED", os.path.join(HERE, "..", "..", "shared"))
MODEL = os.path.join(SHARED, "models", "stories260K.gguf")
SERVER = os.path.join(BUILD, "tlm-server")
GENERATE = os.path.join(BUILD, "tlm-generate")
CLIENT_DIR = os.path.join(HERE, "server")  # the node clients (*.mjs, node_modules)


def generate(args):
    """tlm-generate's greedy text (its trailing newline removed)."""
    p = subprocess.run([GENERATE, "-m", MODEL, "--temp", "0", "-t", "1"] + args,
                       capture_output=True, timeout=120)
    if p.returncode != 0:
        raise RuntimeError("tlm-generate %s: %s" % (args, p.stderr.decode(errors="replace")))
    out = p.stdout.decode("utf-8")
    return out[:-1] if out.endswith("\n") else out


class Server:
    """tlm-server on --port 0 with `args`, its stderr in log_path. port (and url) is None when
    it did not print its "listening on" line within 60 s; the caller checks that."""

    def __init__(self, args, log_path, env=None, model=None, stop_wait=30):
        self.log = open(log_path, "w+b")
        self.stop_wait = stop_wait
        self.proc = subprocess.Popen([SERVER, "-m", model or MODEL, "--port", "0"] + args,
                                     stdout=subprocess.PIPE, stderr=self.log, env=env)
        self.port = None
        self.url = None
        line = [None]
        # a thread, so that a server that never prints cannot hang the test
        reader = threading.Thread(target=lambda: line.__setitem__(0, self.proc.stdout.readline()))
        reader.start()
        reader.join(60)
        text = (line[0] or b"").decode(errors="replace").strip()
        if text.startswith("listening on http://127.0.0.1:"):
            self.port = int(text.rsplit(":", 1)[1])
            self.url = "http://127.0.0.1:%d" % self.port

    def rss(self):
        """The server's resident memory in bytes (/proc), or None."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        return None

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self):
        """SIGTERM; the exit status (None if it had to be killed). A sanitizer report in its
        log counts one failure (testlib.watch_log)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(self.stop_wait)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        self.proc.stdout.close()
        testlib.watch_log("tlm-server (its log)", rc, self.log_text())
        return rc


def http(url, body=None, key=None, method=None, timeout=60):
    """(status, parsed JSON or None) with urllib."""
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    req = urllib.request.Request(url, data=data, method=method)
    if key:
        req.add_header("Authorization", "Bearer " + key)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    except OSError as e:  # refused, reset, timed out: the server is gone or stuck
        return None, {"connection_error": str(e)}
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, None


def health(srv):
    return http(srv.url + "/health", timeout=10)


def wait_health(srv, pred, seconds):
    """(True, /health's object) once pred holds for it, or (False, the last one) after
    `seconds`."""
    t0 = time.time()
    h = None
    while time.time() - t0 < seconds:
        st, h = health(srv)
        if st == 200 and isinstance(h, dict) and pred(h):
            return True, h
        time.sleep(0.02)
    return False, h


def curl(srv, path, data=None, method=None, key=None, headers=(), extra=()):
    """(status, body bytes) of one curl request; data is bytes sent as they are."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        if data is not None:
            f.write(data)
        body_path = f.name
    out_path = body_path + ".out"
    cmd = ["curl", "-s", "-o", out_path, "-w", "%{http_code}", "--max-time", "60"]
    if method:
        cmd += ["-X", method]
    if key:
        cmd += ["-H", "Authorization: Bearer " + key]
    for h in headers:
        cmd += ["-H", h]
    if data is not None:
        cmd += ["-H", "Content-Type: application/json", "--data-binary", "@" + body_path]
    cmd += list(extra) + [srv.url + path]
    p = subprocess.run(cmd, capture_output=True, timeout=90)
    status = int(p.stdout or b"0")
    try:
        with open(out_path, "rb") as f:
            body = f.read()
    except OSError:
        body = b""
    for path_ in (body_path, out_path):
        if os.path.exists(path_):
            os.remove(path_)
    return status, body
