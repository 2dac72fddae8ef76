/* context.c - the context half of the public API: size and allocate the KV cache and
 * scratch once, validate every eval request, run the forward pass in n_batch chunks. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "context.h"

tlm_context_params tlm_context_default_params(void)
{
    return (tlm_context_params){.n_ctx = 0, .n_batch = 256, .n_threads = 0,
                                .kv_type = TLM_TYPE_F16};
}

/* Records the failure on the context and returns the status. */
static tlm_status ctx_fail(tlm_context *ctx, tlm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    return st;
}

typedef struct layout {
    uint64_t total;
    bool overflow;
} layout;

/* Reserves n floats at a 64-byte boundary; returns the offset. */
static uint64_t reserve(layout *l, uint64_t n)
{
    uint64_t at = (l->total + 63) & ~(uint64_t)63, bytes;
    if (!tlm_mul_u64(n, sizeof(float), &bytes) || !tlm_add_u64(at, bytes, &l->total))
        l->overflow = true;
    return at;
}

tlm_status tlm_context_create(const tlm_model *m, const tlm_context_params *params,
                              tlm_context **out, tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_context_create: out is NULL");
    *out = NULL;
    if (!m) return tlm_fail(err, TLM_ERR_ARG, "tlm_context_create: model is NULL");
    tlm_context_params p = params ? *params : tlm_context_default_params();
    const tlm_config *c = &m->cfg;
    if (p.n_ctx < 0 || p.n_ctx > TLM_MAX_CTX || p.n_batch < 0 || p.n_threads < 0 ||
        p.n_threads > 1024)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_create: n_ctx %d, n_batch %d or n_threads "
                        "%d out of range", p.n_ctx, p.n_batch, p.n_threads);
    if (p.kv_type != TLM_TYPE_F32 && p.kv_type != TLM_TYPE_F16)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "tlm_context_create: KV cache type %d is not "
                        "supported (F32 or F16)", (int)p.kv_type);
    int32_t n_ctx = p.n_ctx ? p.n_ctx : c->max_seq;
    if (c->exact_ctx_limit && n_ctx > c->exact_ctx_limit)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "context %d is longer than %d, past which this "
                        "model needs dynamic NTK and logn scaling (not implemented yet)", n_ctx,
                        c->exact_ctx_limit);
    int32_t n_batch = p.n_batch ? p.n_batch : 256;
    if (n_batch > n_ctx) n_batch = n_ctx;
    int32_t n_threads = p.n_threads ? p.n_threads : tlm_default_threads();

    uint64_t hd = (uint64_t)c->head_dim, q_dim = (uint64_t)c->n_heads * hd;
    uint64_t kv_dim = (uint64_t)c->n_kv_heads * hd, B = (uint64_t)n_batch;
    uint64_t kv_floats = (uint64_t)tlm_config_n_apply(c) * (uint64_t)n_ctx * kv_dim;
    uint64_t gate_up = (c->mlp_gated ? 2 : 1) * (uint64_t)c->hidden_dim;
    uint64_t half = (uint64_t)c->rope_dim / 2;
    layout l = {0, false};
    /* reserve() counts floats: an F16 cache needs half as many */
    uint64_t kv_units = p.kv_type == TLM_TYPE_F32 ? kv_floats : (kv_floats + 1) / 2;
    uint64_t o_k = reserve(&l, kv_units), o_v = reserve(&l, kv_units);
    uint64_t o_x = reserve(&l, B * (uint64_t)c->dim), o_xb = reserve(&l, B * (uint64_t)c->dim);
    uint64_t o_qkv = reserve(&l, B * (q_dim + 2 * kv_dim)), o_att = reserve(&l, B * q_dim);
    uint64_t o_br = reserve(&l, B * (uint64_t)c->dim), o_mlp = reserve(&l, B * (uint64_t)c->dim);
    uint64_t o_hb = reserve(&l, B * gate_up);
    uint64_t o_cos = reserve(&l, B * half), o_sin = reserve(&l, B * half);
    uint64_t o_freq = reserve(&l, half);
    uint64_t o_sc = reserve(&l, (uint64_t)n_threads * (uint64_t)n_ctx);
    uint64_t o_lg = reserve(&l, (uint64_t)c->vocab_size);
    if (l.overflow || l.total > SIZE_MAX - 64)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "context of %d positions is too large", n_ctx);

    tlm_context *ctx = calloc(1, sizeof *ctx);
    void *arena = NULL;
    if (!ctx || posix_memalign(&arena, 64, (size_t)l.total) != 0) {
        free(ctx);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "cannot allocate %llu bytes for a context of %d "
                        "positions", (unsigned long long)l.total, n_ctx);
    }
    uint8_t *base = arena;
    *ctx = (tlm_context){
        .m = m, .k = m->k, .n_ctx = n_ctx, .n_batch = n_batch, .n_threads = n_threads,
        .kv_type = p.kv_type, .k_cache = base + o_k, .v_cache = base + o_v,
        .x = (float *)(base + o_x), .xb = (float *)(base + o_xb), .qkv = (float *)(base + o_qkv),
        .att = (float *)(base + o_att), .branch = (float *)(base + o_br),
        .mlp = (float *)(base + o_mlp), .hb = (float *)(base + o_hb),
        .rope_cos = (float *)(base + o_cos), .rope_sin = (float *)(base + o_sin),
        .inv_freq = (float *)(base + o_freq), .scores = (float *)(base + o_sc),
        .logits = (float *)(base + o_lg), .arena = arena,
    };
    /* inv_freq[i] = theta^(-2i / rope_dim), in fp32 as the reference implementations. */
    for (uint64_t i = 0; i < half; i++)
        ctx->inv_freq[i] = 1.0f / powf(c->rope_theta, (float)(2 * i) / (float)c->rope_dim);
    *out = ctx;
    return TLM_OK;
}

void tlm_context_free(tlm_context *ctx)
{
    if (!ctx) return;
    free(ctx->arena);
    free(ctx);
}

tlm_status tlm_context_eval(tlm_context *ctx, const int32_t *tokens, int32_t n_tokens,
                            float *all_logits)
{
    if (!ctx) return TLM_ERR_ARG;
    ctx->error[0] = '\0';
    if (!tokens || n_tokens < 1)
        return ctx_fail(ctx, TLM_ERR_ARG, "eval: need at least one token (got %d)", n_tokens);
    int32_t vocab = ctx->m->cfg.vocab_size;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return ctx_fail(ctx, TLM_ERR_ARG, "eval: token %d at index %d is outside [0, %d)",
                            tokens[i], i, vocab);
    if (n_tokens > ctx->n_ctx - ctx->n_past)
        return ctx_fail(ctx, TLM_ERR_CONTEXT_FULL, "eval: %d tokens do not fit: %d of %d "
                        "positions are used", n_tokens, ctx->n_past, ctx->n_ctx);
    for (int32_t s = 0; s < n_tokens; s += ctx->n_batch) {
        int32_t n = n_tokens - s < ctx->n_batch ? n_tokens - s : ctx->n_batch;
        float *rows = all_logits ? all_logits + (int64_t)s * vocab : NULL;
        tlm_forward(ctx, tokens + s, n, rows, s + n == n_tokens);
    }
    return TLM_OK;
}

const float *tlm_context_logits(const tlm_context *ctx)
{
    return ctx && ctx->has_logits ? ctx->logits : NULL;
}

int32_t tlm_context_n_past(const tlm_context *ctx) { return ctx ? ctx->n_past : 0; }
int32_t tlm_context_n_ctx(const tlm_context *ctx) { return ctx ? ctx->n_ctx : 0; }

void tlm_context_reset(tlm_context *ctx)
{
    if (!ctx) return;
    ctx->n_past = 0;
    ctx->has_logits = false;
}

const char *tlm_context_error(const tlm_context *ctx) { return ctx ? ctx->error : "NULL context"; }
