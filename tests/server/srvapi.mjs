// srvapi.mjs - what tests/test_server_srvapi.py asks of real clients: the openai client's
// embeddings.create (its default base64 encoding and float) and the Vercel AI SDK's default
// OpenAI provider (the Responses API) with generateText and streamText. Prints one JSON
// object of raw results; every check is made by the Python test against its own references.
//
//     node srvapi.mjs BASE_URL KEY SYSTEM USER N
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const [base, key, system, user, n] = process.argv.slice(2);
const out = {};
const client = new OpenAI({ baseURL: base + "/v1", apiKey: key });

async function attempt(name, fn) {
  try {
    out[name] = await fn();
  } catch (e) {
    out[name] = { error: String(e && e.stack ? e.stack : e) };
  }
}

await attempt("embed_default", async () => {
  const r = await client.embeddings.create({ model: "m", input: ["Once upon a time", user] });
  return { data: r.data.map((d) => ({ index: d.index, embedding: Array.from(d.embedding) })),
           usage: r.usage, object: r.object };
});
await attempt("embed_float", async () => {
  const r = await client.embeddings.create({ model: "m", input: "Once upon a time",
                                             encoding_format: "float" });
  return { data: r.data.map((d) => ({ index: d.index, embedding: d.embedding })), usage: r.usage };
});

await attempt("chat_logprobs", async () => {
  const r = await client.chat.completions.create({ model: "m", temperature: 0, max_tokens: Number(n),
    messages: [{ role: "system", content: system }, { role: "user", content: user }],
    logprobs: true, top_logprobs: 5 });
  return { content: r.choices[0].message.content, logprobs: r.choices[0].logprobs,
           usage: r.usage };
});
await attempt("chat_logprobs_stream", async () => {
  const s = await client.chat.completions.create({ model: "m", temperature: 0,
    max_tokens: Number(n), stream: true, logprobs: true, top_logprobs: 3,
    messages: [{ role: "system", content: system }, { role: "user", content: user }] });
  const chunks = [];
  for await (const c of s) chunks.push(c.choices[0] ? { delta: c.choices[0].delta.content ?? "",
                                                        logprobs: c.choices[0].logprobs } : {});
  return chunks;
});

const openai = createOpenAI({ baseURL: base + "/v1", apiKey: key });
await attempt("generate", async () => {
  const r = await generateText({ model: openai("m"), system, prompt: user,
                                 maxOutputTokens: Number(n), temperature: 0 });
  return { text: r.text, finishReason: r.finishReason, usage: r.usage };
});
await attempt("stream", async () => {
  const s = streamText({ model: openai("m"), system, prompt: user, maxOutputTokens: Number(n),
                         temperature: 0 });
  const parts = [];
  for await (const d of s.textStream) parts.push(d);
  return { parts, finishReason: await s.finishReason, usage: await s.usage };
});
await attempt("generate_stop", async () => {
  // a long budget: the reply ends at the template's end of turn (or the budget) by itself
  const r = await generateText({ model: openai("m"), system, prompt: user, maxOutputTokens: 180,
                                 temperature: 0 });
  return { text: r.text, finishReason: r.finishReason, usage: r.usage };
});
console.log(JSON.stringify(out));
