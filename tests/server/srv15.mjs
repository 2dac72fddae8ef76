// n > 1 choices and lists of prompts through the official openai npm client (and LangChain's
// OpenAI LLM, whose generate() sends a list of prompts). Run by
// tests/test_server_srv15.py:  node srv15.mjs CONFIG.json
// CONFIG: the server's base URL, and prompts with their greedy texts (from tlm-generate).
// Prints one "ok   name" or "FAIL name -- detail" line per check.
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { OpenAI as LangChainLLM } from "@langchain/openai";

import { check, finish, run, show } from "./harness.mjs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const client = new OpenAI({ baseURL: cfg.base_url + "/v1", apiKey: "unused", maxRetries: 0,
                            timeout: 60000 });
const byIndex = (choices) => [...choices].sort((a, b) => a.index - b.index);
const [p0, p1] = cfg.prompts; // {prompt, max_tokens, expected}

await run("completions: a list of two prompts", async () => {
  const r = await client.completions.create({ model: "x", prompt: [p0.prompt, p1.prompt],
                                              max_tokens: p0.max_tokens, temperature: 0 });
  const c = byIndex(r.choices);
  check("list of prompts: one choice per prompt, indexed 0 and 1",
        r.choices.length === 2 && c[0].index === 0 && c[1].index === 1, show(r.choices));
  check("list of prompts: each choice is its prompt's greedy text",
        c[0]?.text === p0.expected && c[1]?.text === p1.expected,
        show([c[0]?.text, c[1]?.text, p0.expected, p1.expected]));
  check("list of prompts: usage counts both prompts and both texts",
        r.usage.prompt_tokens === p0.n_prompt + p1.n_prompt &&
        r.usage.completion_tokens === p0.n_gen + p1.n_gen, show(r.usage));
});

await run("completions: a list of prompts streamed", async () => {
  const s = await client.completions.create({ model: "x", prompt: [p0.prompt, p1.prompt],
                                              max_tokens: p0.max_tokens, temperature: 0,
                                              stream: true });
  const text = ["", ""], finish = [null, null];
  let bad = 0;
  for await (const ch of s) {
    for (const c of ch.choices) {
      if (c.index !== 0 && c.index !== 1) { bad++; continue; }
      text[c.index] += c.text ?? "";
      finish[c.index] = c.finish_reason ?? finish[c.index];
    }
  }
  check("streamed list: chunks carry index 0 or 1, each ends with a finish_reason",
        bad === 0 && finish[0] && finish[1], show({ bad, finish }));
  check("streamed list: each index assembles its prompt's greedy text",
        text[0] === p0.expected && text[1] === p1.expected, show(text));
});

await run("chat: n = 2 at temperature 0", async () => {
  const r = await client.chat.completions.create({ model: "x", messages: cfg.chat.messages,
                                                   max_tokens: cfg.chat.max_tokens,
                                                   temperature: 0, n: 2 });
  const c = byIndex(r.choices);
  check("chat n = 2: two choices indexed 0 and 1",
        c.length === 2 && c[0].index === 0 && c[1].index === 1, show(r.choices));
  check("chat n = 2 at temperature 0: both choices are the greedy text",
        c[0]?.message?.content === cfg.chat.expected && c[1]?.message?.content === cfg.chat.expected,
        show([c[0]?.message?.content, c[1]?.message?.content, cfg.chat.expected]));
  check("chat n = 2: usage counts the prompt once",
        r.usage.prompt_tokens === cfg.chat.n_prompt, show(r.usage));
});

await run("chat: n = 2 streamed", async () => {
  const s = await client.chat.completions.create({ model: "x", messages: cfg.chat.messages,
                                                   max_tokens: cfg.chat.max_tokens,
                                                   temperature: 0, n: 2, stream: true });
  const text = ["", ""];
  for await (const ch of s)
    for (const c of ch.choices) text[c.index] += c.delta?.content ?? "";
  check("chat n = 2 streamed: both indexes assemble the greedy text",
        text[0] === cfg.chat.expected && text[1] === cfg.chat.expected, show(text));
});

await run("completions: n = 3 with a seed", async () => {
  const req = { model: "x", prompt: p0.prompt, max_tokens: cfg.sampled_tokens, temperature: 1.0,
                seed: 1234, n: 3 };
  const a = byIndex((await client.completions.create(req)).choices).map((c) => c.text);
  const b = byIndex((await client.completions.create(req)).choices).map((c) => c.text);
  check("seeded n = 3: the same request gives the same three texts", show(a) === show(b),
        show([a, b]));
  const one = await client.completions.create({ ...req, n: 1 });
  check("seeded n = 3: choice 0 uses the request's seed (equals n = 1)",
        one.choices[0].text === a[0], show([one.choices[0].text, a[0]]));
  check("seeded n = 3: the choices are sampled independently (not all equal)",
        !(a[0] === a[1] && a[1] === a[2]), show(a));
});

await run("LangChain generate", async () => {
  // LangChain's OpenAI LLM sends the prompts of one generate() call as one list request
  const llm = new LangChainLLM({ model: "x", temperature: 0, maxTokens: p0.max_tokens,
                                 apiKey: "unused", maxRetries: 0,
                                 configuration: { baseURL: cfg.base_url + "/v1" } });
  const r = await llm.generate([p0.prompt, p1.prompt]);
  const t = r.generations.map((g) => g[0]?.text);
  check("LangChain generate([two prompts]): each generation is its prompt's greedy text",
        t.length === 2 && t[0] === p0.expected && t[1] === p1.expected, show(t));
  const u = r.llmOutput?.tokenUsage ?? {};
  check("LangChain generate: token usage counts both prompts and both texts",
        u.promptTokens === p0.n_prompt + p1.n_prompt &&
        u.completionTokens === p0.n_gen + p1.n_gen, show(u));
});

finish();
