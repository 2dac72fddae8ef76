/* endpoints.h - tlm-server's routes beyond the OpenAI completions: llama-server's /tokenize
 * and /detokenize, and OpenAI's /v1/embeddings. Each takes a request body and writes either
 * a 200 JSON body (true) or the API's error (false, *err). */
#ifndef TLM_SERVER_ENDPOINTS_H
#define TLM_SERVER_ENDPOINTS_H

#include <pthread.h>

#include "buf.h"
#include "metrics.h"
#include "openai.h"

typedef struct api_env {
    const tlm_model *model;
    const tlm_tokenizer *tok;
    const char *model_id;
    int32_t n_ctx;      /* longest embeddings input, in tokens */
    int32_t n_threads;  /* of the embeddings context */
    int32_t max_inputs; /* inputs per embeddings request */
    metrics *metrics;
    pthread_mutex_t embed_lock; /* embeddings run one request at a time */
} api_env;

/* {"content": TEXT, "add_special": bool, "with_pieces": bool} -> {"tokens": [...]} */
bool api_tokenize(api_env *env, const char *body, size_t len, buf *out, oai_error *err);
/* {"tokens": [ids]} -> {"content": TEXT} */
bool api_detokenize(api_env *env, const char *body, size_t len, buf *out, oai_error *err);
/* OpenAI's embeddings request and response (see docs/server.md for the pooling). */
bool api_embeddings(api_env *env, const char *body, size_t len, buf *out, oai_error *err);

#endif
