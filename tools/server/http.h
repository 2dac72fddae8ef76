/* http.h - tlm-server's HTTP side on libmicrohttpd: routes, API keys, body limits, JSON and
 * server-sent-event responses. Generation runs in the connection's own thread. */
#ifndef TLM_SERVER_HTTP_H
#define TLM_SERVER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "prompt.h"
#include "slots.h"

typedef struct http_config {
    const char *host;     /* numeric address or name to bind */
    int port;             /* 0: any free port (see http_port) */
    const char *api_key;  /* NULL: no key needed */
    const char *model_id; /* what /v1/models lists and responses name */
    size_t max_body;      /* bytes; larger bodies get 413 */
    int32_t max_messages; /* messages per chat request */
    unsigned conn_limit;  /* open connections (each has a thread) */
    unsigned timeout;     /* seconds an idle connection is kept */
    prompt_env prompt;    /* tokenizer, template, context, max_tokens limit */
    int32_t n_vocab;
    int32_t max_n;                   /* the largest `n` of a request (--max-n) */
    bool log_requests;               /* a line per request on stderr */
    const tlm_model *model;          /* for /v1/embeddings */
    int32_t embed_threads;           /* threads of an embeddings evaluation */
    const char *const *cors_origins; /* --cors-origin values ("*": any); n_cors of them */
    int n_cors;
    bool metrics;               /* --metrics: GET /metrics answers (else 501) */
    const char *slot_save_path; /* --slot-save-path: slot save / restore files; NULL: 501 */
} http_config;

typedef struct http_server http_server;

/* Starts listening; NULL after a message on stderr. cfg and pool must outlive the server. */
http_server *http_start(const http_config *cfg, slot_pool *pool);
int http_port(const http_server *srv); /* the bound port */
/* Stops accepting, ends open connections (running generations stop at their next token when
 * slot_pool_stop was called first) and frees the server. */
void http_stop(http_server *srv);

#endif
