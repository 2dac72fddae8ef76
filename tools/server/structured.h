/* structured.h - response_format and tools for tlm-server (docs/server.md "Structured output
 * and tools"): the request fields validated, the tool list and tool history rendered into the
 * chat's messages, the grammar that constrains the reply, and tool calls parsed out of the
 * generated text into the API's tool_calls (whole or as stream deltas). */
#ifndef TLM_SERVER_STRUCTURED_H
#define TLM_SERVER_STRUCTURED_H

#include "openai.h"

typedef enum tool_mode {
    TOOLS_OFF = 0, /* no tools, or tool_choice "none": the reply is text */
    TOOLS_AUTO,    /* the model may answer text or calls; no grammar */
    TOOLS_FORCED,  /* "required" or a named tool: a grammar forces one valid call */
} tool_mode;

typedef struct structured {
    tool_mode mode;
    char **names; /* the tools' function names */
    int32_t n_tools;
    char *grammar; /* GBNF for gen_params.grammar; NULL: none */
    char **owned;  /* message texts made here (the request's msgs point at them) */
    int32_t n_owned;
    uint64_t call_seq; /* makes tool call ids */
    /* streaming */
    buf held;     /* text not yet sent: a possible "<tool_call>" and what follows it */
    bool in_call; /* held text holds a "<tool_call>" */
} structured;

/* Reads response_format, tools and tool_choice from req->json, checks them (400 naming the
 * field: an invalid tool, an unknown tool_choice name, an unsupported schema keyword), and
 * for a chat rewrites req->msgs: the tool list goes into the system message, assistant
 * tool_calls and tool results become the texts the template renders (tool_prompt.c).
 * *s is always initialised (structured_free it). */
bool structured_prepare(structured *s, oai_request *req, tlm_chat_template chat, oai_error *err);
void structured_free(structured *s);

/* tool_prompt.c: the message rewrite of structured_prepare. */
bool tool_prompt_rewrite(structured *s, oai_request *req, const void *tools_json,
                         tlm_chat_template chat, oai_error *err);
/* v as Python's json.dumps writes it (", " and ": " separators, non-ASCII kept): what the
 * published templates' tojson filter gives. */
void tool_pyjson(buf *out, const void *v);
char *structured_own(structured *s, char *text); /* keeps text until structured_free */

/* tool_reply.c: the reply. With tools on, a whole response whose message holds the parsed
 * tool_calls (finish_reason "tool_calls") or, when the text holds no complete call, the text
 * (a forced call cut by max_tokens: content null, finish_reason "length"). */
void structured_response_json(structured *s, buf *out, const oai_meta *m, const char *text,
                              size_t len, const char *finish_reason, const oai_usage *u);
/* Streaming with tools on: text before a possible "<tool_call>" goes out as content; a call
 * is held until the end, then sent as tool-call deltas (id, type and name, then the
 * arguments in pieces). Returns the finish reason to send. */
void structured_stream_text(structured *s, buf *out, const oai_meta *m, const char *text,
                            size_t len, bool with_usage);
const char *structured_stream_end(structured *s, buf *out, const oai_meta *m,
                                  const char *finish_reason, bool with_usage);

#endif
