/* responses.h - a minimal OpenAI Responses API (/v1/responses) for tlm-server: text in (a
 * string or message items, instructions) and text out, whole or as the API's stream of typed
 * events, enough for clients such as the Vercel AI SDK's default OpenAI provider. A request
 * becomes a chat request, so it runs exactly as /v1/chat/completions would. */
#ifndef TLM_SERVER_RESPONSES_H
#define TLM_SERVER_RESPONSES_H

#include "openai.h"

/* The body as a chat request (req->chat true; free with oai_request_free): false with *err
 * (400) for a bad or unsupported field. */
bool resp_parse_request(const char *body, size_t len, const oai_limits *lim, oai_request *req,
                        oai_error *err);

/* The whole response object ("status" completed, or incomplete for max_output_tokens). */
void resp_json(buf *out, const oai_meta *m, const char *text, size_t len, const char *finish_reason,
               const oai_usage *u);

/* A streamed response: begin writes response.created, output_item.added and
 * content_part.added; each delta an output_text.delta; end the .done events and
 * response.completed (or response.incomplete); fail a response.failed. */
typedef struct resp_stream resp_stream;
resp_stream *resp_stream_create(const oai_meta *m); /* NULL: out of memory */
void resp_stream_begin(resp_stream *rs, buf *out);
void resp_stream_delta(resp_stream *rs, buf *out, const char *text, size_t len);
void resp_stream_end(resp_stream *rs, buf *out, const char *finish_reason, const oai_usage *u);
void resp_stream_fail(resp_stream *rs, buf *out, const char *message);
void resp_stream_free(resp_stream *rs); /* NULL: no-op */

#endif
