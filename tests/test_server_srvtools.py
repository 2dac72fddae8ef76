#!/usr/bin/python3
"""test_server_srvtools.py - tlm-server's response_format and tools (docs/server.md), on
stories260K (trained) and a random-weights llama the test writes (tok512 vocabulary), where
nothing but the grammar can make the output valid.

- 200 seeded generations with response_format json_schema over test_grammar.py's schemas
  (every supported keyword), each parsed and validated by test_grammar's validator (written
  from the JSON Schema specification, independent of the C converter); json_object gives
  objects;
- tools: tool_choice required and named force a call whose name is the tool's and whose
  arguments validate against its parameters, whole and streamed (deltas assembled give the
  same call); "none" gives text; a call cut by max_tokens is finish_reason "length" with no
  tool_calls;
- the follow-up turn (assistant tool_calls, tool results) rendered by POST /apply-template
  equals golden texts written by hand from Qwen2.5's published ChatML template (Qwen2's own
  has no tool syntax) and from the generic format (docs/server.md) for Phi-3 and Zephyr;
- bad input: invalid tools, unknown tool_choice names, bad response_format, bad tool
  messages: 400 naming the field, and the server healthy after;
- tests/server/srvtools.mjs (openai v6, the AI SDK, LangChain) against the same server.
Last line: "test_server_srvtools: N passed, M failed, K skipped".
"""
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "ref"))
import testlib  # noqa: E402
import test_grammar as tg  # noqa: E402  (the independent validator and the schemas)
import server_lib as sl  # noqa: E402  (Server, http)

SHARED = sl.SHARED
TOK512 = os.path.join(SHARED, "models", "tok512.bin")
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    print(("ok   " if ok else "FAIL ") + name + (": " + detail if detail and not ok else ""))
    sys.stdout.flush()
    if ok:
        passed += 1
    else:
        failed += 1


def section(name, fn, *args):
    """Runs one group of checks; an exception (a server that died) counts as one failure."""
    try:
        return fn(*args)
    except Exception as e:  # noqa: BLE001 - any crash here is a test failure, not an abort
        check("%s ran to the end" % name, False, "%s: %s" % (type(e).__name__, e))
        return None


def chat(srv, body, timeout=300):
    return sl.http(srv.url + "/v1/chat/completions", dict(body), timeout=timeout)


def sse(srv, body):
    """The parsed data events of a streamed chat (without [DONE])."""
    r = subprocess.run(["curl", "-s", "-N", "--max-time", "300", "-H",
                        "Content-Type: application/json", "--data-binary",
                        json.dumps(dict(body, stream=True)), srv.url + "/v1/chat/completions"],
                       capture_output=True, timeout=320)
    out = []
    for line in r.stdout.decode().splitlines():
        if line.startswith("data: ") and line != "data: [DONE]":
            out.append(json.loads(line[6:]))
    return out


def random_model(tmp):
    import model_files as mf
    import presets
    cfg = dict(presets.SMALL["tinyllama"])
    cfg.update(vocab_size=512, max_position_embeddings=2048)
    path = os.path.join(tmp, "random.bin")
    mf.write_llama2c_bin(path, cfg, mf.random_weights(cfg, 1717))
    return path


# ---- response_format ---------------------------------------------------------------------

def run_schema(srv, name, schema, seed):
    st, r = chat(srv, {"messages": [{"role": "user", "content": "Give JSON"}],
                       "max_tokens": 1500, "temperature": 1, "seed": seed,
                       "response_format": {"type": "json_schema",
                                           "json_schema": {"name": name, "schema": schema,
                                                           "strict": True}}})
    if st != 200:
        return "%s seed %d: status %s %s" % (name, seed, st, r)
    ch = r["choices"][0]
    if ch["finish_reason"] != "stop":
        return "%s seed %d: finish %s" % (name, seed, ch["finish_reason"])
    try:
        v = json.loads(ch["message"]["content"])
    except ValueError as e:
        return "%s seed %d: %s in %r" % (name, seed, e, ch["message"]["content"][:200])
    errs = tg.validate(v, schema, schema)
    return "%s seed %d: %s" % (name, seed, errs) if errs else None


def test_json_schema(servers):
    jobs = []
    for label, srv, per in servers:
        for name, schema in tg.SCHEMAS.items():
            for k in range(per):
                jobs.append((label, srv, name, schema, 100 * k + len(name)))
    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        res = list(ex.map(lambda j: run_schema(j[1], j[2], j[3], j[4]), jobs))
    bad = [r for r in res if r]
    check("response_format json_schema: %d seeded generations (stories260K and random "
          "weights, %d schemas) all parse and validate" % (len(jobs), len(tg.SCHEMAS)),
          not bad and len(jobs) >= 200, "%d bad: %s" % (len(bad), bad[:3]))
    # json_object strings are unbounded (docs/grammar.md): a model may stay inside one until
    # max_tokens ("length"); a reply that finishes must be an object
    bad, n_stop, n_cut = [], 0, 0
    for label, srv, _ in servers:
        for seed in range(4):
            st, r = chat(srv, {"messages": [{"role": "user", "content": "JSON please"}],
                               "max_tokens": 400, "seed": seed, "temperature": 1,
                               "response_format": {"type": "json_object"}})
            c = r["choices"][0] if st == 200 else {}
            if c.get("finish_reason") == "length":
                n_cut += 1
                continue
            try:
                ok = c.get("finish_reason") == "stop" and \
                    isinstance(json.loads(c["message"]["content"]), dict)
            except (ValueError, KeyError):
                ok = False
            n_stop += ok
            if not ok:
                bad.append("%s seed %d: %s" % (label, seed, str(r)[:200]))
    print("info json_object: %d replies finished, %d cut by max_tokens" % (n_stop, n_cut))
    check("response_format json_object: every finished reply is a JSON object", not bad,
          str(bad[:2]))


# ---- tools -------------------------------------------------------------------------------

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
                                                    "days": {"type": "integer", "minimum": 1,
                                                             "maximum": 7}},
                   "required": ["city", "days"], "additionalProperties": False}}}
ADD = {"type": "function", "function": {
    "name": "add", "parameters": {"type": "object", "properties": {
        "a": {"type": "integer", "minimum": -99, "maximum": 99},
        "b": {"enum": [1, 2, 3]}}, "required": ["a", "b"]}}}
TOOLS = [WEATHER, ADD]
PARAMS = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def call_ok(call, want=None):
    try:
        args = json.loads(call["function"]["arguments"])
    except (ValueError, KeyError, TypeError):
        return False
    name = call["function"]["name"]
    return (call.get("type") == "function" and call.get("id", "").startswith("call_") and
            name in PARAMS and (want is None or name == want) and
            not tg.validate(args, PARAMS[name], PARAMS[name]))


def assemble(events):
    calls, finish, content = {}, None, ""
    for ev in events:
        for ch in ev.get("choices", []):
            d = ch.get("delta", {})
            content += d.get("content") or ""
            for tc in d.get("tool_calls") or []:
                c = calls.setdefault(tc["index"], {"function": {"name": "", "arguments": ""}})
                if "id" in tc:
                    c["id"], c["type"] = tc["id"], tc["type"]
                f = tc.get("function", {})
                c["function"]["name"] += f.get("name") or ""
                c["function"]["arguments"] += f.get("arguments") or ""
            finish = ch.get("finish_reason") or finish
    return [calls[i] for i in sorted(calls)], finish, content


def test_tools(label, srv):
    bad = []
    for seed in range(6):
        want = None if seed % 2 == 0 else ("add" if seed % 4 == 1 else "get_weather")
        choice = "required" if want is None else {"type": "function", "function": {"name": want}}
        body = {"messages": ASK, "tools": TOOLS, "tool_choice": choice, "max_tokens": 400,
                "seed": seed, "temperature": 1}
        st, r = chat(srv, body)
        ch = r["choices"][0] if st == 200 else {}
        msg = ch.get("message", {})
        calls = msg.get("tool_calls") or []
        if not (ch.get("finish_reason") == "tool_calls" and len(calls) == 1 and
                msg.get("content") is None and call_ok(calls[0], want)):
            bad.append("whole seed %d: %s" % (seed, str(r)[:300]))
            continue
        scalls, finish, content = assemble(sse(srv, body))
        same = len(scalls) == 1 and scalls[0]["function"] == calls[0]["function"]
        if not (same and finish == "tool_calls" and content == "" and call_ok(scalls[0], want)):
            bad.append("stream seed %d: %s vs %s" % (seed, scalls, calls))
    check("%s: forced tool calls (required, named) parse, validate, and stream as deltas that "
          "assemble to the same call" % label, not bad, "; ".join(bad[:2]))
    st, r = chat(srv, {"messages": ASK, "tools": TOOLS, "tool_choice": "none", "max_tokens": 8,
                       "seed": 1})
    check("%s: tool_choice none gives text" % label, st == 200 and
          "tool_calls" not in r["choices"][0]["message"] and
          isinstance(r["choices"][0]["message"]["content"], str), str(r)[:200])
    st, r = chat(srv, {"messages": ASK, "tools": TOOLS, "tool_choice": "required",
                       "max_tokens": 6, "seed": 1})
    m = r["choices"][0]["message"] if st == 200 else {}
    check("%s: a forced call cut by max_tokens: finish_reason length, no tool_calls, content "
          "null" % label, st == 200 and r["choices"][0]["finish_reason"] == "length" and
          "tool_calls" not in m and m.get("content") is None, str(r)[:200])
    ev = sse(srv, {"messages": ASK, "tools": TOOLS, "tool_choice": "required", "max_tokens": 6,
                   "seed": 1})
    calls, finish, content = assemble(ev)
    check("%s: ... and streamed: no tool-call delta at all" % label,
          not calls and finish == "length" and content == "", str(ev)[-300:])
    st, r = chat(srv, {"messages": ASK, "tools": TOOLS, "max_tokens": 12, "seed": 2})
    check("%s: tool_choice auto (no grammar) answers" % label, st == 200 and
          r["choices"][0]["finish_reason"] in ("stop", "length", "tool_calls"), str(r)[:200])


# ---- the follow-up turn, golden renders ------------------------------------------------

HISTORY = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "U"},
    {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\",\"days\":2}"}},
        {"id": "call_2", "type": "function",
         "function": {"name": "add", "arguments": "{\"a\": -3, \"b\": 1}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 20}"},
    {"role": "tool", "tool_call_id": "call_2", "content": "-2"},
]
# Written by hand from Qwen2.5's tokenizer_config.json chat_template (tools branch): the tool
# list after the system text, each tool as tojson (", " and ": "), calls as <tool_call> lines
# after the assistant header, consecutive tool results in one user turn.
TOOLS_BLOCK = (
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    '{"type": "function", "function": {"name": "get_weather", "description": "Weather in a '
    'city", "parameters": {"type": "object", "properties": {"city": {"type": "string", '
    '"maxLength": 12}, "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": '
    '["city", "days"], "additionalProperties": false}}}\n'
    '{"type": "function", "function": {"name": "add", "parameters": {"type": "object", '
    '"properties": {"a": {"type": "integer", "minimum": -99, "maximum": 99}, "b": {"enum": '
    '[1, 2, 3]}}, "required": ["a", "b"]}}}\n</tools>\n\n'
    "For each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n"
    '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>')
CALLS = ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 2}}\n'
         '</tool_call>\n<tool_call>\n{"name": "add", "arguments": {"a": -3, "b": 1}}\n'
         '</tool_call>')
RESULTS = '<tool_response>\n{"temp": 20}\n</tool_response>\n<tool_response>\n-2\n</tool_response>'
GOLDEN = {
    "chatml": ("<|im_start|>system\nS\n\n" + TOOLS_BLOCK + "<|im_end|>\n<|im_start|>user\nU"
               "<|im_end|>\n<|im_start|>assistant\n" + CALLS + "<|im_end|>\n<|im_start|>user\n" +
               RESULTS + "<|im_end|>\n<|im_start|>assistant\n"),
    "phi3": ("<|system|>\nS\n\n" + TOOLS_BLOCK + "<|end|>\n<|user|>\nU<|end|>\n<|assistant|>\n" +
             CALLS + "<|end|>\n<|user|>\n" + RESULTS + "<|end|>\n<|assistant|>\n"),
    "zephyr": ("<|system|>\nS\n\n" + TOOLS_BLOCK + "</s>\n<|user|>\nU</s>\n<|assistant|>\n" +
               CALLS + "</s>\n<|user|>\n" + RESULTS + "</s>\n<|assistant|>\n"),
}


def test_golden(template, srv):
    st, r = sl.http(srv.url + "/apply-template", {"messages": HISTORY, "tools": TOOLS})
    got = r.get("prompt") if st == 200 else r
    check("%s: the follow-up turn renders as the golden text" % template,
          got == GOLDEN[template], "got %r" % (got,))


# ---- bad input ---------------------------------------------------------------------------

def test_bad(srv):
    t = dict(WEATHER)
    cases = [
        ("tools not an array", {"tools": {"a": 1}}, "tools", None),
        ("tool without function", {"tools": [{"type": "function"}]}, "tools[0]", None),
        ("tool of another type", {"tools": [{"type": "retrieval"}]}, "tools[0]", None),
        ("bad function name", {"tools": [{"type": "function", "function": {"name": "a b"}}]},
         "tools[0].function.name", None),
        ("duplicate name", {"tools": [t, t]}, "tools[1].function.name", "twice"),
        ("unsupported keyword in parameters", {"tools": [{"type": "function", "function": {
            "name": "f", "parameters": {"type": "object", "properties": {
                "s": {"type": "string", "pattern": "^a"}}}}}]},
         "tools[0].function.parameters", "pattern"),
        ("unknown tool_choice name", {"tools": TOOLS, "tool_choice": {
            "type": "function", "function": {"name": "nope"}}}, "tool_choice", "nope"),
        ("tool_choice without tools", {"tool_choice": "required"}, "tool_choice", None),
        ("bad tool_choice value", {"tools": TOOLS, "tool_choice": "always"}, "tool_choice", None),
        ("response_format type", {"response_format": {"type": "xml"}}, "response_format.type",
         None),
        ("json_schema without name", {"response_format": {"type": "json_schema", "json_schema": {
            "schema": {"type": "object"}}}}, "response_format.json_schema.name", None),
        ("json_schema unsupported keyword", {"response_format": {
            "type": "json_schema", "json_schema": {"name": "x", "schema": {
                "type": "object", "minProperties": 1}}}},
         "response_format.json_schema.schema", "minProperties"),
        ("forced tool with response_format", {"tools": TOOLS, "tool_choice": "required",
                                              "response_format": {"type": "json_object"}},
         "response_format", None),
    ]
    for name, extra, param, word in cases:
        st, r = chat(srv, dict({"messages": ASK, "max_tokens": 4}, **extra))
        e = (r or {}).get("error", {})
        check("bad input: %s -> 400 naming %s" % (name, param), st == 400 and
              e.get("param") == param and e.get("type") == "invalid_request_error" and
              (word is None or word in e.get("message", "")), "%s %s" % (st, r))
    msgs = [
        ("tool message without tool_call_id", ASK + [{"role": "tool", "content": "x"}],
         "messages[1].tool_call_id"),
        ("tool_calls arguments not JSON", ASK + [{"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{x"}}]}],
         "messages[1].tool_calls[0]"),
    ]
    for name, m, param in msgs:
        st, r = chat(srv, {"messages": m, "max_tokens": 4})
        check("bad input: %s -> 400 naming %s" % (name, param), st == 400 and
              (r or {}).get("error", {}).get("param") == param, "%s %s" % (st, r))
    st, h = sl.health(srv)
    check("the server is healthy after the bad requests", st == 200 and
          h.get("slots_idle") == h.get("slots_total"), str(h))


# ---- node clients ------------------------------------------------------------------------

def test_node(srv):
    script = os.path.join(HERE, "server", "srvtools.mjs")
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(HERE, "server", "node_modules", "ai")):
        testlib.missing("node and tests/server/node_modules (npm ci): srvtools.mjs", 1)
        return
    cfg = {"base_url": srv.url, "model": "stories260K.gguf"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    r = subprocess.run([node, script, f.name], capture_output=True, text=True, timeout=600,
                       cwd=os.path.join(HERE, "server"))
    os.unlink(f.name)
    lines = [l for l in r.stdout.splitlines() if l.startswith(("ok   ", "FAIL "))]
    for l in lines:
        check("node: " + l[5:], l.startswith("ok"))
    if not lines or r.returncode not in (0, 1):
        check("node srvtools.mjs ran", False, (r.stderr or r.stdout)[-500:])


def main():
    if not os.path.exists(sl.SERVER) or not os.path.exists(sl.MODEL):
        testlib.missing("tlm-server or stories260K", 1)
        return testlib.finish("server_srvtools", passed, failed)
    tmp = tempfile.mkdtemp(prefix="tlm-srvtools-")
    servers = []
    try:
        a = sl.Server(["--template", "zephyr", "--parallel", "4", "--quiet"],
                      os.path.join(tmp, "a.log"))
        servers.append(a)
        rnd = random_model(tmp)
        r = sl.Server(["-z", TOK512, "--template", "zephyr", "--parallel", "4", "--quiet"],
                      os.path.join(tmp, "r.log"), model=rnd)
        servers.append(r)
        render = {}
        for t in ("chatml", "phi3"):
            render[t] = sl.Server(["--template", t, "--parallel", "1", "--quiet"],
                                  os.path.join(tmp, t + ".log"))
            servers.append(render[t])
        if not all(s.port for s in servers):
            check("servers started", False, " | ".join(s.log_text()[-300:] for s in servers))
            return testlib.finish("server_srvtools", passed, failed)
        section("json_schema", test_json_schema, [("stories260K", a, 13), ("random", r, 12)])
        section("tools stories260K", test_tools, "stories260K", a)
        section("tools random", test_tools, "random weights", r)
        section("golden zephyr", test_golden, "zephyr", a)
        for t in ("chatml", "phi3"):
            section("golden " + t, test_golden, t, render[t])
        section("bad input", test_bad, a)
        section("node", test_node, a)
    finally:
        for s in servers:
            rc = s.stop()
            check("server exits cleanly on SIGTERM", rc == 0, str(rc))
        shutil.rmtree(tmp, ignore_errors=True)
    return testlib.finish("server_srvtools", passed, failed)


if __name__ == "__main__":
    sys.exit(main())
