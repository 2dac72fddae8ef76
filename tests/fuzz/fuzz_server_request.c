/* fuzz_server_request - tlm-server's request parser (tools/server/openai.c) on any body, as a
 * chat request (first byte odd) or a completions request. What it accepts must keep the
 * limits it promises (messages, stop strings, token ids within the vocabulary, ranges); what
 * it refuses must carry a 4xx status and a message; the response writers then run on it. */
#include <string.h>

#include "../../tools/server/openai.h"
#include "../../tools/server/structured.h"

#define REQUIRE(c) ((c) ? (void)0 : __builtin_trap())

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const bool chat = data[0] & 1;
    const oai_limits lim = {.max_messages = 16, .n_vocab = 512, .max_n = 4};
    oai_request req;
    oai_error err;
    memset(&err, 0, sizeof err);
    buf out = {0};
    if (oai_parse_request((const char *)data + 1, size - 1, chat, &lim, &req, &err)) {
        REQUIRE(req.chat == chat);
        REQUIRE(req.n_msgs >= 0 && req.n_msgs <= lim.max_messages);
        REQUIRE(req.n_stop >= 0 && req.n_stop <= OAI_MAX_STOP);
        for (int32_t i = 0; i < req.n_msgs; i++)
            REQUIRE(req.msgs[i].role && req.msgs[i].content);
        for (int32_t i = 0; i < req.n_prompt_ids; i++)
            REQUIRE(req.prompt_ids[i] >= 0 && req.prompt_ids[i] < lim.n_vocab);
        REQUIRE(req.n >= 1 && req.n <= lim.max_n);
        REQUIRE(req.n_prompts == 0 || (req.n_prompts >= 2 && req.n_prompts <= OAI_MAX_PROMPTS));
        for (int32_t p = 0; p < req.n_prompts; p++) {
            REQUIRE((req.prompts[p].text != NULL) != (req.prompts[p].ids != NULL));
            for (int32_t i = 0; i < req.prompts[p].n_ids; i++)
                REQUIRE(req.prompts[p].ids[i] >= 0 && req.prompts[p].ids[i] < lim.n_vocab);
        }
        for (int32_t i = 0; i < req.n_logit_bias; i++)
            REQUIRE(req.logit_bias[i].id >= 0 && req.logit_bias[i].id < lim.n_vocab);
        REQUIRE(req.temperature >= 0 && req.temperature <= 2);
        REQUIRE(req.top_p > 0 && req.top_p <= 1);
        REQUIRE(req.max_tokens >= 0);
        REQUIRE(req.logprobs >= -1 && req.logprobs <= (chat ? 20 : 5));
        oai_meta m = {.chat = chat, .id = "x", .created = 1, .model = "m"};
        oai_usage u = {1, 2};
        const char *text = req.n_msgs ? req.msgs[req.n_msgs - 1].content : req.prompt;
        size_t len = text ? strlen(text) : 0;
        oai_response_json(&out, &m, text, len, "stop", &u);
        oai_chunk_sse(&out, &m, chat ? "assistant" : NULL, text, len, NULL, req.include_usage);
        /* response_format, tools and tool messages (structured.c), then the text as a reply
         * that may hold tool calls, whole and streamed */
        structured sx;
        if (structured_prepare(&sx, &req, TLM_CHAT_CHATML, &err)) {
            for (int32_t i = 0; i < req.n_msgs; i++)
                REQUIRE(req.msgs[i].role && req.msgs[i].content);
            REQUIRE(sx.mode == TOOLS_OFF || sx.n_tools > 0);
            REQUIRE(sx.mode != TOOLS_FORCED || sx.grammar);
            structured_response_json(&sx, &out, &m, text, len, "stop", &u);
            structured_stream_text(&sx, &out, &m, text, len, false);
            structured_stream_end(&sx, &out, &m, "stop", false);
        } else {
            REQUIRE(err.status >= 400 && err.message[0]);
        }
        structured_free(&sx);
    } else {
        REQUIRE(err.status >= 400 && err.status < 500 && err.message[0]);
        oai_error_json(&out, &err);
    }
    oai_request_free(&req);
    buf_free(&out);
    return 0;
}
