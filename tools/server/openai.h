/* openai.h - the OpenAI API's JSON for tlm-server: a request body turned into validated
 * parameters (or the API's error object), and the bodies and stream chunks of responses. */
#ifndef TLM_SERVER_OPENAI_H
#define TLM_SERVER_OPENAI_H

#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "tinylm.h"

#define OAI_MAX_STOP 4
#define OAI_MAX_PROMPTS 256 /* prompts in one /v1/completions list */

/* An error as the API reports it: {"error": {"message", "type", "param", "code"}}. */
typedef struct oai_error {
    int status;       /* HTTP status */
    const char *type; /* "invalid_request_error", "server_error", ... */
    char param[64];   /* the field at fault ("messages[2].role"), "" for none */
    const char *code; /* a machine-readable code, or NULL */
    char message[512];
} oai_error;

void oai_error_set(oai_error *e, int status, const char *type, const char *param, const char *code,
                   const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void oai_error_json(buf *out, const oai_error *e);

typedef struct oai_limits {
    int32_t max_messages; /* more messages: 400 */
    int32_t n_vocab;      /* token ids (logit_bias keys, prompt ids) must be below it */
    int32_t max_n;        /* the largest `n` (choices per prompt); 0 or 1: only 1 */
} oai_limits;

/* One prompt of a /v1/completions list: text, or token ids (owned by the request). */
typedef struct oai_prompt {
    const char *text;
    int32_t *ids;
    int32_t n_ids;
} oai_prompt;

/* A validated /v1/chat/completions or /v1/completions request. Strings point into the parsed
 * JSON, kept until oai_request_free. */
typedef struct oai_request {
    bool chat;
    bool stream, include_usage;
    tlm_chat_message *msgs; /* chat: the conversation */
    int32_t n_msgs;
    const char *prompt;  /* completions: the prompt text, or NULL when given as ids */
    int32_t *prompt_ids; /* completions: the prompt as ids (used as they are, no BOS added) */
    int32_t n_prompt_ids;
    oai_prompt *prompts; /* completions with a list of prompts: all of them (prompt or
                          * prompt_ids hold the first); NULL for one prompt */
    int32_t n_prompts;   /* 0 for one prompt */
    int32_t n;           /* choices per prompt, 1..max_n */
    int64_t max_tokens;  /* 0: not given */
    double temperature, top_p, presence_penalty, frequency_penalty;
    bool has_seed;
    uint64_t seed;
    const char *stop[OAI_MAX_STOP];
    int32_t n_stop;
    tlm_logit_bias *logit_bias;
    int32_t n_logit_bias;
    int32_t logprobs; /* -1: off; else the alternatives per token (chat top_logprobs 0..20,
                       * completions logprobs 0..5) */
    void *json;       /* the parsed body (cJSON) */
    char **owned;     /* message contents joined from text parts */
    int32_t n_owned;
} oai_request;

/* Parses and validates a request body. false with *err filled (400) when the body is not a
 * JSON object, a field has the wrong type or range, or a feature is unsupported (n != 1,
 * non-text content parts, logprobs). Unknown fields are ignored, as the API does. */
bool oai_parse_request(const char *body, size_t len, bool chat, const oai_limits *lim,
                       oai_request *req, oai_error *err);
void oai_request_free(oai_request *req);
/* A body as a JSON object (a cJSON *, for cJSON_Delete), or NULL with *err (400) when it is
 * empty, not UTF-8, holds a NUL, is not JSON or not an object. */
void *oai_parse_json(const char *body, size_t len, oai_error *err);
/* logprobs / top_logprobs of a parsed body (json: its cJSON) into req->logprobs. */
bool oai_parse_logprobs(const void *json, bool chat, oai_request *req, oai_error *err);

/* What a response says about itself. */
typedef struct oai_meta {
    bool chat;
    const char *id;    /* "chatcmpl-..." or "cmpl-..." */
    int64_t created;   /* Unix seconds */
    const char *model; /* the model's id */
    int32_t index;     /* the choice a chunk or one-choice response carries (0 by default) */
} oai_meta;

typedef struct oai_usage {
    int32_t prompt_tokens, completion_tokens;
} oai_usage;

/* A whole (non-streaming) response. */
void oai_response_json(buf *out, const oai_meta *m, const char *text, size_t len,
                       const char *finish_reason, const oai_usage *u);

/* One server-sent event "data: {chunk}\n\n". role: the first chat chunk's role (NULL after);
 * finish_reason NULL while generating; with_usage adds "usage": null as the API does when
 * include_usage is set. */
void oai_chunk_sse(buf *out, const oai_meta *m, const char *role, const char *text, size_t len,
                   const char *finish_reason, bool with_usage);
/* The include_usage chunk: empty choices and the usage. */
void oai_usage_sse(buf *out, const oai_meta *m, const oai_usage *u);
/* An error inside a stream: "data: {error}\n\n". */
void oai_error_sse(buf *out, const oai_error *e);

void oai_models_json(buf *out, const char *model, int64_t created);
void oai_model_json(buf *out, const char *model, int64_t created);

/* Whether s[0..n) is well-formed UTF-8 (no surrogates, no overlongs). */
bool oai_utf8_valid(const char *s, size_t n);

#endif
