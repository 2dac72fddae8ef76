/* context.h - a context: the KV cache of every applied layer plus all scratch, allocated
 * once at creation. The forward pass (forward.c) allocates nothing. */
#ifndef TLM_CONTEXT_H
#define TLM_CONTEXT_H

#include "model.h"

struct tlm_context {
    const tlm_model *m;
    const tlm_kernels *k;
    int32_t n_ctx, n_batch, n_threads;
    int32_t n_past;      /* positions already in the cache */
    bool has_logits;
    char error[256];

    /* KV cache: [n_apply][n_ctx][kv_dim] elements of kv_type (F32 or F16) each; position p
     * of applied layer a is element (a * n_ctx + p) * kv_dim. */
    tlm_type kv_type;
    void *k_cache, *v_cache;

    /* Scratch for n_batch tokens (row-major [token][...]). */
    float *x;            /* residual stream [dim] */
    float *xb;           /* normed input [dim] */
    float *qkv;          /* [q_dim + 2 kv_dim] */
    float *att;          /* attention output before Wo [q_dim] */
    float *branch;       /* attention branch after Wo [dim] */
    float *mlp;          /* MLP branch [dim] */
    float *hb;           /* MLP hidden [gate | up] [gate_up rows] */
    float *rope_cos, *rope_sin; /* [rope_dim / 2] per token */
    float *inv_freq;     /* [rope_dim / 2] */
    float *scores;       /* [n_threads][n_ctx] attention weights */
    float *logits;       /* [vocab]: the last token's */

    void *arena;
};

/* Evaluates n (<= n_batch) tokens at positions n_past.. and advances n_past. Writes the
 * logits of every token to `rows_out` ([n][vocab]) when it is not NULL, and the last
 * token's to ctx->logits when `want_last`. Inputs are validated by the caller. */
void tlm_forward(tlm_context *ctx, const int32_t *tokens, int32_t n, float *rows_out,
                 bool want_last);

#endif
