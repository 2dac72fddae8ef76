// Drives tlm-server with the official openai npm client. Run by tests/test_server.py:
//   node client.mjs CONFIG.json
// CONFIG holds the server's base URL, its API key and the expected greedy texts (made with
// tlm-generate). Prints one "ok   name" or "FAIL name -- detail" line per check.
import { readFileSync } from "node:fs";
import OpenAI from "openai";

import { check, finish, run, show } from "./harness.mjs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const client = new OpenAI({ baseURL: cfg.base_url + "/v1", apiKey: cfg.api_key, maxRetries: 0,
                            timeout: 60000 });

async function chat(c, stream) {
  const req = { model: cfg.model, messages: c.messages, max_tokens: c.max_tokens, temperature: 0 };
  if (!stream) {
    const r = await client.chat.completions.create(req);
    return { text: r.choices[0].message.content, finish: r.choices[0].finish_reason, r };
  }
  const s = await client.chat.completions.create({ ...req, stream: true });
  let text = "", finish = null;
  for await (const ch of s) {
    text += ch.choices[0]?.delta?.content ?? "";
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

async function complete(c, stream) {
  const req = { model: cfg.model, prompt: c.prompt, max_tokens: c.max_tokens, temperature: 0 };
  if (c.stop) req.stop = c.stop;
  if (!stream) {
    const r = await client.completions.create(req);
    return { text: r.choices[0].text, finish: r.choices[0].finish_reason, r };
  }
  const s = await client.completions.create({ ...req, stream: true });
  let text = "", finish = null;
  for await (const ch of s) {
    text += ch.choices[0]?.text ?? "";
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  return { text, finish };
}

async function health() {
  const r = await fetch(cfg.base_url + "/health");
  return r.json();
}

await run("models.list", async () => {
  const page = await client.models.list();
  const ids = page.data.map((m) => m.id);
  check("models.list names the model", ids.length === 1 && ids[0] === cfg.model, show(ids));
});

await run("chat (non-streaming)", async () => {
  const c = cfg.chat[0];
  const { text, finish, r } = await chat(c, false);
  check("chat: greedy text equals tlm-generate's", text === c.expected,
        `got ${show(text)}, want ${show(c.expected)}`);
  check("chat: response shape", r.object === "chat.completion" && r.id.startsWith("chatcmpl-") &&
        r.choices.length === 1 && r.choices[0].index === 0 &&
        r.choices[0].message.role === "assistant" && r.choices[0].logprobs === null &&
        ["stop", "length"].includes(finish) && r.model === cfg.model &&
        Number.isInteger(r.created), show(r));
  check("chat: usage adds up", r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0 &&
        r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens &&
        r.usage.completion_tokens <= c.max_tokens, show(r.usage));
});

await run("completion (non-streaming)", async () => {
  const c = cfg.completion[0];
  const { text, finish, r } = await complete(c, false);
  check("completion: greedy text equals tlm-generate's", text === c.expected,
        `got ${show(text)}, want ${show(c.expected)}`);
  check("completion: response shape and usage", r.object === "text_completion" &&
        r.id.startsWith("cmpl-") && r.choices[0].index === 0 && finish === "length" &&
        r.usage.completion_tokens === c.max_tokens &&
        r.usage.total_tokens === r.usage.prompt_tokens + r.usage.completion_tokens, show(r));
});

await run("chat streaming with usage", async () => {
  const c = cfg.chat[1];
  const s = await client.chat.completions.create({
    model: cfg.model, messages: c.messages, max_tokens: c.max_tokens, temperature: 0,
    stream: true, stream_options: { include_usage: true } });
  const chunks = [];
  for await (const ch of s) chunks.push(ch);
  const first = chunks[0], usage = chunks[chunks.length - 1];
  const body = chunks.slice(0, -1);
  const text = body.map((ch) => ch.choices[0]?.delta?.content ?? "").join("");
  const last = body[body.length - 1];
  check("stream: first chunk carries role assistant", first.object === "chat.completion.chunk" &&
        first.choices[0].delta.role === "assistant", show(first));
  check("stream: text equals tlm-generate's", text === c.expected,
        `got ${show(text)}, want ${show(c.expected)}`);
  check("stream: several content chunks, one id", body.length > 3 &&
        chunks.every((ch) => ch.id === first.id), `${body.length} chunks`);
  check("stream: final chunk has finish_reason, the others none",
        ["stop", "length"].includes(last.choices[0].finish_reason) &&
        body.slice(0, -1).every((ch) => ch.choices[0].finish_reason === null), show(last));
  check("stream: usage chunk last, with empty choices", usage.choices.length === 0 &&
        usage.usage.completion_tokens > 0 &&
        usage.usage.total_tokens === usage.usage.prompt_tokens + usage.usage.completion_tokens,
        show(usage));
});

await run("completion streaming with a stop string", async () => {
  const c = cfg.completion_stop;
  const plain = await complete(c, true);
  check("stream + stop: text ends before the stop string", plain.text === c.expected &&
        plain.finish === "stop", `got ${show(plain.text)} (${plain.finish}), want ${show(c.expected)}`);
  const whole = await complete(c, false);
  check("stop (non-streaming) gives the same", whole.text === c.expected &&
        whole.finish === "stop", `got ${show(whole.text)} (${whole.finish})`);
});

await run("8 concurrent clients", async () => {
  const jobs = cfg.concurrent.map((c, i) => {
    const own = new OpenAI({ baseURL: cfg.base_url + "/v1", apiKey: cfg.api_key,
                             maxRetries: 0, timeout: 120000 });
    const stream = i % 2 === 1;
    if (c.messages) {
      const req = { model: cfg.model, messages: c.messages, max_tokens: c.max_tokens,
                    temperature: 0 };
      return stream
        ? own.chat.completions.create({ ...req, stream: true }).then(async (s) => {
            let t = "";
            for await (const ch of s) t += ch.choices[0]?.delta?.content ?? "";
            return t;
          })
        : own.chat.completions.create(req).then((r) => r.choices[0].message.content);
    }
    const req = { model: cfg.model, prompt: c.prompt, max_tokens: c.max_tokens, temperature: 0 };
    return stream
      ? own.completions.create({ ...req, stream: true }).then(async (s) => {
          let t = "";
          for await (const ch of s) t += ch.choices[0]?.text ?? "";
          return t;
        })
      : own.completions.create(req).then((r) => r.choices[0].text);
  });
  const got = await Promise.all(jobs);
  const bad = got.map((t, i) => (t === cfg.concurrent[i].expected ? null : i))
                 .filter((i) => i !== null);
  check("8 concurrent clients each get their own greedy text", bad.length === 0,
        bad.map((i) => `#${i}: got ${show(got[i])}, want ${show(cfg.concurrent[i].expected)}`)
           .join("; "));
});

await run("seeded sampling", async () => {
  const req = { model: cfg.model, prompt: "Once upon a time", max_tokens: 40, temperature: 1,
                top_p: 0.9, seed: 1234 };
  const a = await client.completions.create(req), b = await client.completions.create(req);
  check("same seed, same sampled text", a.choices[0].text === b.choices[0].text &&
        a.choices[0].text.length > 0, `${show(a.choices[0].text)} vs ${show(b.choices[0].text)}`);
});

await run("abort mid-stream", async () => {
  const ac = new AbortController();
  const s = await client.completions.create(
    { model: cfg.model, prompt: "Once upon a time", max_tokens: cfg.long_tokens, temperature: 0,
      logit_bias: { [cfg.eos]: -100 }, stream: true }, { signal: ac.signal });
  let n = 0, threw = null, busy = null;
  try {
    for await (const ch of s) {
      n++;
      if (n === 5) {
        busy = (await health()).slots_processing;
        ac.abort();
      }
    }
  } catch (e) {
    threw = e;
  }
  // The client either throws APIUserAbortError or just ends the iteration.
  const aborted = ac.signal.aborted && n < cfg.long_tokens &&
                  (threw === null || threw instanceof OpenAI.APIUserAbortError ||
                   threw?.name === "AbortError");
  check("abort: the stream was running, then aborted", aborted && busy === 1,
        `aborted ${aborted} after ${n} chunks (${threw?.constructor?.name}), ` +
        `slots_processing ${busy}`);
  let h = null;
  const t0 = Date.now();
  while (Date.now() - t0 < 3000) {
    h = await health();
    if (h.slots_idle === h.slots_total) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  check("abort: the slot is free again quickly", h.slots_idle === h.slots_total,
        `${show(h)} after ${Date.now() - t0} ms`);
  console.log(`info abort: slot free ${Date.now() - t0} ms after abort`);
});

await run("wrong API key", async () => {
  const bad = new OpenAI({ baseURL: cfg.base_url + "/v1", apiKey: "wrong-key", maxRetries: 0 });
  try {
    await bad.chat.completions.create({ model: cfg.model, messages: cfg.chat[0].messages });
    check("wrong key: AuthenticationError", false, "the request succeeded");
  } catch (e) {
    check("wrong key: AuthenticationError", e instanceof OpenAI.AuthenticationError &&
          e.status === 401, `${e?.constructor?.name} ${e?.status}`);
  }
});

await run("bad request through the client", async () => {
  try {
    await client.chat.completions.create({ model: cfg.model, messages: cfg.chat[0].messages,
                                           n: 9 });
    check("n = 9 (over --max-n): BadRequestError", false, "the request succeeded");
  } catch (e) {
    check("n = 9 (over --max-n): BadRequestError naming the param", e instanceof OpenAI.BadRequestError &&
          e.status === 400 && e.param === "n" && e.type === "invalid_request_error",
          `${e?.constructor?.name} ${e?.status} ${e?.param}`);
  }
});

finish();
