// Structured output and tools through the clients people use, against tlm-server (run by
// tests/test_server_srvtools.py): node srvtools.mjs CONFIG.json with {base_url, model}.
// Outputs are checked with zod schemas written here (not by the server's grammar code).
// Prints one "ok   name" or "FAIL name -- detail" line per check.
import { readFileSync } from "node:fs";
import OpenAI from "openai";
import { generateObject, generateText, tool } from "ai";
import { createOpenAICompatible } from "@ai-sdk/openai-compatible";
import { ChatOpenAI } from "@langchain/openai";
import { z } from "zod";

import { check, finish, run, show } from "./harness.mjs";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));

// The tool's arguments, as zod (the check) and as the JSON Schema sent to the server.
const Weather = z.object({ city: z.string().max(12), days: z.number().int().min(1).max(7) })
  .strict();
const weatherParams = {
  type: "object", additionalProperties: false, required: ["city", "days"],
  properties: { city: { type: "string", maxLength: 12 },
                days: { type: "integer", minimum: 1, maximum: 7 } },
};
const Person = z.object({ name: z.string().max(10), age: z.number().int().min(0).max(120),
                          pet: z.enum(["cat", "dog"]) });
const messages = [{ role: "user", content: "What is the weather in Paris for 2 days?" }];
const valid = (schema, v) => schema.safeParse(v).success;

const client = new OpenAI({ baseURL: cfg.base_url + "/v1", apiKey: "none", maxRetries: 0,
                            timeout: 120000 });

await run("openai: forced tool call", async () => {
  const req = { model: cfg.model, messages, max_tokens: 300, temperature: 1, seed: 7,
                tools: [{ type: "function", function: { name: "get_weather",
                                                        parameters: weatherParams } }],
                tool_choice: "required" };
  const r = await client.chat.completions.create(req);
  const m = r.choices[0].message, call = m.tool_calls?.[0];
  check("openai: required -> one tool call, finish_reason tool_calls",
        r.choices[0].finish_reason === "tool_calls" && m.tool_calls.length === 1 &&
        call.type === "function" && call.function.name === "get_weather", show(r.choices[0]));
  const args = JSON.parse(call.function.arguments);
  check("openai: the arguments validate (zod)", valid(Weather, args), show(args));
  const s = await client.chat.completions.create({ ...req, stream: true });
  const calls = [];
  let finish = null;
  for await (const ch of s) {
    for (const d of ch.choices[0]?.delta?.tool_calls ?? []) {
      calls[d.index] ??= { id: "", name: "", arguments: "" };
      if (d.id) calls[d.index].id = d.id;
      calls[d.index].name += d.function?.name ?? "";
      calls[d.index].arguments += d.function?.arguments ?? "";
    }
    finish = ch.choices[0]?.finish_reason ?? finish;
  }
  check("openai: streamed deltas assemble to the same call", calls.length === 1 &&
        calls[0].name === "get_weather" && calls[0].arguments === call.function.arguments &&
        calls[0].id.startsWith("call_") && finish === "tool_calls", show(calls));
  const r2 = await client.chat.completions.create({
    model: cfg.model, max_tokens: 300, temperature: 1, seed: 3,
    messages: [...messages, m, { role: "tool", tool_call_id: call.id, content: "sunny" }],
    response_format: { type: "json_schema", json_schema: {
      name: "person", strict: true, schema: z.toJSONSchema(Person) } } });
  const obj = JSON.parse(r2.choices[0].message.content);
  check("openai: follow-up turn with the tool result, json_schema reply validates",
        r2.choices[0].finish_reason === "stop" && valid(Person, obj), show(obj));
});

const provider = createOpenAICompatible({ name: "tlm", baseURL: cfg.base_url + "/v1",
                                          apiKey: "none", supportsStructuredOutputs: true });

await run("ai sdk: generateText with tools", async () => {
  const r = await generateText({
    model: provider.chatModel(cfg.model), messages, toolChoice: "required",
    maxOutputTokens: 300, temperature: 1, seed: 11, maxRetries: 0,
    tools: { get_weather: tool({ description: "Weather in a city", inputSchema: Weather }) },
  });
  const c = r.toolCalls[0];
  check("ai sdk: generateText toolChoice required -> a get_weather call that validates",
        r.toolCalls.length === 1 && c.toolName === "get_weather" && valid(Weather, c.input) &&
        r.finishReason === "tool-calls", show({ calls: r.toolCalls, f: r.finishReason }));
});

await run("ai sdk: generateObject", async () => {
  const r = await generateObject({ model: provider.chatModel(cfg.model), schema: Person,
                                   prompt: "A person", maxOutputTokens: 300, temperature: 1,
                                   seed: 5, maxRetries: 0 });
  check("ai sdk: generateObject with a zod schema gives a valid object",
        valid(Person, r.object), show(r.object));
});

const lc = new ChatOpenAI({ model: cfg.model, apiKey: "none", temperature: 1, maxTokens: 300,
                            maxRetries: 0, configuration: { baseURL: cfg.base_url + "/v1" },
                            modelKwargs: { seed: 9 } });

await run("langchain: bindTools", async () => {
  const bound = lc.bindTools([{ type: "function", function: {
    name: "get_weather", description: "Weather in a city", parameters: weatherParams } }],
  { tool_choice: "get_weather" });
  const msg = await bound.invoke("What is the weather in Paris?");
  const c = msg.tool_calls?.[0];
  check("langchain: bindTools with tool_choice -> a get_weather call that validates",
        msg.tool_calls?.length === 1 && c.name === "get_weather" && valid(Weather, c.args),
        show(msg.tool_calls));
});

for (const method of ["jsonSchema", "functionCalling"]) {
  await run("langchain: withStructuredOutput " + method, async () => {
    const out = await lc.withStructuredOutput(Person, { name: "person", method })
      .invoke("Describe a person");
    check(`langchain: withStructuredOutput (${method}) gives a valid object`,
          valid(Person, out), show(out));
  });
}

finish();
