/* metrics.h - tlm-server's counters and their Prometheus text exposition (format 0.0.4) for
 * GET /metrics (--metrics). Counters are atomics, updated from every connection thread. */
#ifndef TLM_SERVER_METRICS_H
#define TLM_SERVER_METRICS_H

#include <stdint.h>

#include "buf.h"
#include "slots.h"

/* The endpoints requests are counted by (the label endpoint="..."). */
typedef enum metrics_endpoint {
    METRICS_OTHER = 0, /* unknown paths */
    METRICS_HEALTH,
    METRICS_MODELS,
    METRICS_CHAT,
    METRICS_COMPLETIONS,
    METRICS_TOKENIZE,
    METRICS_DETOKENIZE,
    METRICS_EMBEDDINGS,
    METRICS_RESPONSES,
    METRICS_METRICS,
    METRICS_SLOTS, /* /slots and /slots/{id} */
    METRICS_N_ENDPOINTS
} metrics_endpoint;

typedef struct metrics metrics;

metrics *metrics_create(void); /* NULL: out of memory */
void metrics_free(metrics *m);
/* A response sent with this status (any code; unusual ones count under "other"). */
void metrics_request(metrics *m, metrics_endpoint e, unsigned status);
/* A finished generation: its tokens, the seconds its prompt took (waiting for a slot
 * excluded) and the seconds of its decoding. */
void metrics_generation(metrics *m, int32_t n_prompt, int32_t n_generated, double prompt_s,
                        double decode_s);
/* Input tokens of an embeddings request (no generation). */
void metrics_embedded(metrics *m, int32_t n_tokens);
/* The exposition: every metric's # HELP and # TYPE lines, then its samples. */
void metrics_render(metrics *m, slot_pool *pool, buf *out);

#endif
