/* prompt.h - a validated request's prompt as token ids (the chat template for chat requests)
 * and the number of tokens it may generate, checked against the context and the limits. */
#ifndef TLM_SERVER_PROMPT_H
#define TLM_SERVER_PROMPT_H

#include "openai.h"

typedef struct prompt_env {
    const tlm_tokenizer *tok;
    tlm_chat_template chat; /* UNKNOWN: chat requests are refused */
    int32_t n_ctx;          /* positions of a slot's context */
    int32_t max_tokens_limit;
} prompt_env;

/* *ids (malloc'd), *n and *max_tokens for the request; false with *err (400) when the
 * conversation does not fit the template, the prompt is empty or the context is too small. */
bool prompt_build(const oai_request *req, const prompt_env *env, int32_t **ids, int32_t *n,
                  int32_t *max_tokens, oai_error *err);

#endif
