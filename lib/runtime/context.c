/* context.c - the context half of the public API: plan the KV cache and scratch and check
 * them against the memory budget, allocate them once, validate every eval request, keep the
 * RoPE state, and run the forward pass in n_batch chunks. Editing the cache (remove, shift)
 * is context_edit.c; saving and loading it is context_file.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "checked.h"
#include "context.h"
#include "quant.h"

enum { HUGE_PAGE = 2 << 20 };

tlm_context_params tlm_context_default_params(void)
{
    return (tlm_context_params){.n_ctx = 0,
                                .n_batch = 256,
                                .n_threads = 0,
                                .kv_type = TLM_TYPE_F16,
                                .rope_factors = TLM_ROPE_FACTORS_AUTO,
                                .ntk_alpha = 0.0f,
                                .no_logn = false,
                                .full_cache = false,
                                .mem_budget = 0,
                                .n_seq_max = 1};
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

/* ---- planning ---------------------------------------------------------------------------- */

/* Where each buffer goes in the arena, for one set of params. */
typedef struct layout {
    int32_t n_ctx, n_batch, n_threads, n_cells, window, n_seq;
    uint64_t kv_bytes, total;
    bool overflow;
    bool bf16; /* the model has BF16 matrices: x_bf16 is planned */
    uint64_t o_k, o_v, o_pos, o_tok, o_x, o_xb, o_qkv, o_att, o_br, o_mlp, o_hb, o_cos, o_sin, o_qs,
        o_first, o_freq, o_sc, o_rb, o_lg, o_blas, o_xr, o_seqs, o_bseq, o_bpos, o_bcell, o_border,
        o_bblock;
} layout;

/* Reserves n elements of `size` bytes at a 64-byte boundary; returns the offset. */
static uint64_t reserve(layout *l, uint64_t n, uint64_t size)
{
    uint64_t at = (l->total + 63) & ~(uint64_t)63, bytes;
    if (!tlm_mul_u64(n, size, &bytes) || !tlm_add_u64(at, bytes, &l->total)) l->overflow = true;
    return at;
}

/* The arena of a context of n_ctx positions (the other params already resolved in l). */
static void lay_out(const tlm_config *c, const tlm_context_params *p, int32_t n_ctx, layout *l)
{
    l->n_ctx = n_ctx;
    l->total = 0;
    l->overflow = false;
    int32_t n_batch = l->n_batch > n_ctx ? n_ctx : l->n_batch;
    /* a window cache holds the window's last W - 1 keys plus room for two batches: one to
     * evaluate, one of slack, so the move that drops old keys happens once per n_batch tokens */
    int32_t W = c->sliding_window;
    int64_t ring = (int64_t)W - 1 + 2 * (int64_t)n_batch;
    l->window = W;
    l->n_cells = W > 0 && !p->full_cache && ring < n_ctx ? (int32_t)ring : n_ctx;
    uint64_t hd = (uint64_t)c->head_dim, q_dim = (uint64_t)c->n_heads * hd;
    uint64_t kv_dim = (uint64_t)c->n_kv_heads * hd, B = (uint64_t)n_batch;
    uint64_t S = (uint64_t)l->n_seq; /* each sequence has its own stripe of n_cells */
    uint64_t kv_elems = (uint64_t)tlm_config_n_apply(c) * S * (uint64_t)l->n_cells * kv_dim;
    uint64_t gate_up = (c->mlp_gated ? 2 : 1) * (uint64_t)c->hidden_dim;
    uint64_t half = (uint64_t)c->rope_dim / 2, dim = (uint64_t)c->dim;
    l->o_k = reserve(l, tlm_kv_bytes(p->kv_type, kv_elems), 1);
    l->o_v = reserve(l, tlm_kv_bytes(p->kv_type, kv_elems), 1);
    l->kv_bytes = l->total;
    l->o_pos = reserve(l, S * (uint64_t)l->n_cells, 4);
    l->o_tok = reserve(l, S * (uint64_t)n_ctx, 4);
    l->o_seqs = reserve(l, S, sizeof(tlm_seq));
    l->o_x = reserve(l, B * dim, 4);
    l->o_xb = reserve(l, B * dim, 4);
    l->o_qkv = reserve(l, B * (q_dim + 2 * kv_dim), 4);
    l->o_att = reserve(l, B * q_dim, 4);
    l->o_br = reserve(l, B * dim, 4);
    l->o_mlp = reserve(l, B * dim, 4);
    l->o_hb = reserve(l, B * gate_up, 4);
    l->o_cos = reserve(l, B * half, 4);
    l->o_sin = reserve(l, B * half, 4);
    l->o_qs = reserve(l, B, 4);
    l->o_first = reserve(l, B, 4);
    l->o_bseq = reserve(l, B, 4);
    l->o_bpos = reserve(l, B, 4);
    l->o_bcell = reserve(l, B, 4);
    l->o_border = reserve(l, B, 4);
    l->o_bblock = reserve(l, B + 1, 4);
    l->o_freq = reserve(l, half, 4);
    /* per thread: a block of queries' scores over every cell (attn_rows), or one query's */
    l->o_sc = reserve(
        l, (uint64_t)l->n_threads * (uint64_t)tlm_attn_rows_scratch(l->n_cells, c->head_dim), 4);
    l->o_rb = reserve(l, (uint64_t)l->n_threads * (kv_dim + 2 * half), 4);
    l->o_lg = reserve(l, (uint64_t)c->vocab_size, 4);
    uint64_t widest = dim > q_dim ? dim : q_dim;
    widest = widest > (uint64_t)c->hidden_dim ? widest : (uint64_t)c->hidden_dim;
    /* widened rows, then as much again to gather interleaved rows (lib/blas.c) */
    l->o_blas = reserve(l, p->blas ? 2 * TLM_BLAS_ROWS * widest : 0, 4);
    l->o_xr = reserve(l, l->bf16 ? B * widest : 0, 4);
    if (l->total > SIZE_MAX - 64) l->overflow = true;
}

/* MemAvailable from /proc/meminfo in bytes; 0 when it cannot be read. */
static uint64_t mem_available(void)
{
    FILE *fp = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kib = 0;
    bool found = false;
    while (fp && !found && fgets(line, sizeof line, fp))
        found = sscanf(line, "MemAvailable: %llu kB", &kib) == 1;
    if (fp) fclose(fp);
    return found && kib <= UINT64_MAX / 1024 ? (uint64_t)kib * 1024 : 0;
}

/* Whether any projection multiplies a BF16 matrix (its input is rounded into x_bf16). */
static bool has_bf16(const tlm_model *m)
{
    bool any = false;
    for (int i = 0; i < m->head.n_parts; i++)
        any |= m->head.part[i].type == TLM_TYPE_BF16;
    for (int32_t l = 0; l < m->cfg.n_layers; l++) {
        const tlm_proj *ps[] = {&m->blocks[l].qkv, &m->blocks[l].out, &m->blocks[l].gate_up,
                                &m->blocks[l].down};
        for (size_t j = 0; j < sizeof ps / sizeof *ps; j++)
            for (int i = 0; i < ps[j]->n_parts; i++)
                any |= ps[j]->part[i].type == TLM_TYPE_BF16;
    }
    return any;
}

/* Checks params and resolves the defaults; fills the layout for the asked n_ctx. */
static tlm_status resolve(const tlm_model *m, const tlm_context_params *p, layout *l,
                          tlm_error *err)
{
    const tlm_config *c = &m->cfg;
    if (p->n_ctx < 0 || p->n_ctx > TLM_MAX_CTX)
        return tlm_fail(err, TLM_ERR_ARG,
                        "context: n_ctx %d is out of range (0 for the "
                        "model's training length, at most %d)",
                        p->n_ctx, TLM_MAX_CTX);
    if (p->n_batch < 0)
        return tlm_fail(err, TLM_ERR_ARG,
                        "context: n_batch %d is negative (0 for the "
                        "default)",
                        p->n_batch);
    if (p->n_threads < 0 || p->n_threads > 1024)
        return tlm_fail(err, TLM_ERR_ARG,
                        "context: n_threads %d is out of range (0 for one "
                        "per core, at most 1024)",
                        p->n_threads);
    if (p->kv_type != TLM_TYPE_F32 && p->kv_type != TLM_TYPE_F16 && p->kv_type != TLM_TYPE_Q8_0)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "context: KV cache type %d is not supported "
                        "(F32, F16 or Q8_0)",
                        (int)p->kv_type);
    if (p->kv_type == TLM_TYPE_Q8_0 && c->head_dim % 32 != 0) /* heads start on blocks */
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "context: a Q8_0 KV cache needs a head size "
                        "that is a multiple of 32; this model's is %d (use F16)",
                        (int)c->head_dim);
    if (p->n_seq_max < 0 || p->n_seq_max > TLM_MAX_SEQ)
        return tlm_fail(err, TLM_ERR_ARG,
                        "context: n_seq_max %d is out of range (0 or 1 for one "
                        "sequence, at most %d)",
                        p->n_seq_max, TLM_MAX_SEQ);
    if ((unsigned)p->rope_factors > TLM_ROPE_FACTORS_LONG)
        return tlm_fail(err, TLM_ERR_ARG, "context: rope_factors %d is not AUTO, SHORT or LONG",
                        (int)p->rope_factors);
    if (!(p->ntk_alpha == 0.0f || (p->ntk_alpha >= 1.0f && isfinite(p->ntk_alpha))))
        return tlm_fail(err, TLM_ERR_ARG, "context: ntk_alpha %g must be 0 (dynamic) or >= 1",
                        (double)p->ntk_alpha);
    l->n_batch = p->n_batch ? p->n_batch : 256;
    l->n_threads = p->n_threads ? p->n_threads : tlm_default_threads();
    l->n_seq = p->n_seq_max ? p->n_seq_max : 1;
    l->bf16 = has_bf16(m);
    lay_out(c, p, p->n_ctx ? p->n_ctx : c->max_seq, l);
    return TLM_OK;
}

tlm_status tlm_context_plan(const tlm_model *m, const tlm_context_params *params,
                            tlm_context_memory *out, tlm_error *err)
{
    if (!m || !out)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_plan: %s is NULL", m ? "out" : "model");
    tlm_context_params p = params ? *params : tlm_context_default_params();
    layout l;
    tlm_status st = resolve(m, &p, &l, err);
    if (st != TLM_OK) return st;
    uint64_t budget = p.mem_budget == TLM_MEM_UNCHECKED ? 0
                      : p.mem_budget                    ? p.mem_budget
                                                        : mem_available();
    *out = (tlm_context_memory){.n_ctx = l.n_ctx,
                                .n_cells = l.n_cells,
                                .kv_bytes = l.kv_bytes,
                                .scratch_bytes = l.total - l.kv_bytes,
                                .total_bytes = l.total,
                                .budget_bytes = budget,
                                .max_n_ctx = l.n_ctx,
                                .fits = true};
    if (l.overflow) {
        out->total_bytes = UINT64_MAX;
        out->fits = false;
    }
    if (!budget) return TLM_OK;
    out->fits = !l.overflow && l.total <= budget;
    /* the largest n_ctx that fits: total grows with n_ctx, so bisect */
    int32_t lo = 0, hi = TLM_MAX_CTX;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo + 1) / 2;
        layout t = l;
        lay_out(&m->cfg, &p, mid, &t);
        if (!t.overflow && t.total <= budget)
            lo = mid;
        else
            hi = mid - 1;
    }
    out->max_n_ctx = lo;
    return TLM_OK;
}

/* "1.5 GiB" style text for messages. */
static const char *human(uint64_t bytes, char *buf, size_t cap)
{
    double v = (double)bytes;
    const char *unit = "bytes";
    if (v >= 1024.0 * 1024 * 1024)
        v /= 1024.0 * 1024 * 1024, unit = "GiB";
    else if (v >= 1024.0 * 1024)
        v /= 1024.0 * 1024, unit = "MiB";
    else if (v >= 1024.0)
        v /= 1024.0, unit = "KiB";
    snprintf(buf, cap, "%.1f %s", v, unit);
    return buf;
}

/* ---- creation ---------------------------------------------------------------------------- */

tlm_status tlm_context_create(const tlm_model *m, const tlm_context_params *params,
                              tlm_context **out, tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_context_create: out is NULL");
    *out = NULL;
    if (!m) return tlm_fail(err, TLM_ERR_ARG, "tlm_context_create: model is NULL");
    if (m->shape_only)
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_context_create: the model has shapes only (a "
                        "shape_only preset) and cannot be evaluated");
    tlm_context_params p = params ? *params : tlm_context_default_params();
    const tlm_config *c = &m->cfg;
    tlm_context_memory mem;
    tlm_status st = tlm_context_plan(m, &p, &mem, err);
    if (st != TLM_OK) return st;
    const char *no_blas = p.blas ? tlm_blas_open() : NULL;
    if (no_blas) return tlm_fail(err, TLM_ERR_UNSUPPORTED, "context: OpenBLAS path: %s", no_blas);
    char need[32], have[32];
    if (mem.total_bytes == UINT64_MAX)
        return tlm_fail(err, TLM_ERR_NO_MEMORY,
                        "a context of %d positions is too large to "
                        "address",
                        mem.n_ctx);
    if (!mem.fits)
        return tlm_fail(err, TLM_ERR_NO_MEMORY,
                        "a context of %d positions needs %llu bytes "
                        "(%s: KV cache %llu at %s, scratch %llu) but %llu (%s) are available; the "
                        "largest context that fits is %d positions",
                        mem.n_ctx, (unsigned long long)mem.total_bytes,
                        human(mem.total_bytes, need, sizeof need), (unsigned long long)mem.kv_bytes,
                        tlm_type_get(p.kv_type)->name, (unsigned long long)mem.scratch_bytes,
                        (unsigned long long)mem.budget_bytes,
                        human(mem.budget_bytes, have, sizeof have), mem.max_n_ctx);
    layout l;
    resolve(m, &p, &l, err);

    tlm_context *ctx = calloc(1, sizeof *ctx);
    void *arena = NULL;
    /* A large arena goes on 2 MiB boundaries, offered as huge pages: attention reads K and V
     * rows a KV width apart, one 4 KiB page (and TLB miss) per row (huge pages: +8% for a
     * block of queries over 16k keys). The kernel may decline; nothing depends on it. */
    size_t align = l.total >= (uint64_t)HUGE_PAGE ? (size_t)HUGE_PAGE : 64;
    if (!ctx || posix_memalign(&arena, align, (size_t)l.total) != 0) {
        free(ctx);
        return tlm_fail(err, TLM_ERR_NO_MEMORY,
                        "cannot allocate %llu bytes (%s) for a context "
                        "of %d positions",
                        (unsigned long long)l.total, human(l.total, need, sizeof need), l.n_ctx);
    }
#ifdef MADV_HUGEPAGE
    if (align == (size_t)HUGE_PAGE) madvise(arena, (size_t)l.total, MADV_HUGEPAGE);
#endif
    uint8_t *b = arena;
    *ctx = (tlm_context){
        .m = m,
        .k = m->k,
        .n_ctx = l.n_ctx,
        .n_batch = l.n_batch > l.n_ctx ? l.n_ctx : l.n_batch,
        .n_threads = l.n_threads,
        .n_cells = l.n_cells,
        .window = l.window,
        .kv_type = p.kv_type,
        .k_cache = b + l.o_k,
        .v_cache = b + l.o_v,
        .n_seq_max = l.n_seq,
        .seqs = (tlm_seq *)(b + l.o_seqs),
        .b_seq = (int32_t *)(b + l.o_bseq),
        .b_pos = (int32_t *)(b + l.o_bpos),
        .b_cell = (int32_t *)(b + l.o_bcell),
        .b_order = (int32_t *)(b + l.o_border),
        .b_block = (int32_t *)(b + l.o_bblock),
        .x = (float *)(b + l.o_x),
        .xb = (float *)(b + l.o_xb),
        .qkv = (float *)(b + l.o_qkv),
        .att = (float *)(b + l.o_att),
        .branch = (float *)(b + l.o_br),
        .mlp = (float *)(b + l.o_mlp),
        .hb = (float *)(b + l.o_hb),
        .rope_cos = (float *)(b + l.o_cos),
        .rope_sin = (float *)(b + l.o_sin),
        .q_scale = (float *)(b + l.o_qs),
        .first_cell = (int32_t *)(b + l.o_first),
        .inv_freq = (float *)(b + l.o_freq),
        .scores = (float *)(b + l.o_sc),
        .row_buf = (float *)(b + l.o_rb),
        .logits = (float *)(b + l.o_lg),
        .arena = arena,
        .blas = p.blas,
        .blas_buf = (float *)(b + l.o_blas),
        .x_bf16 = (float *)(b + l.o_xr),
    };
    /* RoPE state: fixed for the context (factor set) or until the cache empties (NTK) */
    ctx->long_factors =
        c->longrope && (p.rope_factors == TLM_ROPE_FACTORS_LONG ||
                        (p.rope_factors == TLM_ROPE_FACTORS_AUTO && l.n_ctx > c->orig_ctx));
    ctx->rope_mscale = c->longrope ? c->rope_attn_factor : 1.0f;
    ctx->ntk_param = c->dynamic_ntk ? p.ntk_alpha : 1.0f;
    ctx->ntk_alpha = ctx->ntk_param > 0.0f ? ctx->ntk_param : 1.0f;
    ctx->logn = c->logn_attn && !p.no_logn;
    tlm_context_rope_freqs(ctx);
    for (int32_t s = 0; s < l.n_seq; s++) {
        tlm_seq *sq = &ctx->seqs[s];
        *sq = (tlm_seq){.cell0 = s * l.n_cells,
                        .cell_pos = (int32_t *)(b + l.o_pos) + (int64_t)s * l.n_cells,
                        .tokens = (int32_t *)(b + l.o_tok) + (int64_t)s * l.n_ctx};
        for (int32_t i = 0; i < l.n_ctx; i++)
            sq->tokens[i] = -1;
    }
    ctx->sq = &ctx->seqs[0];
    *out = ctx;
    return TLM_OK;
}

void tlm_context_free(tlm_context *ctx)
{
    if (!ctx) return;
    free(ctx->arena);
    free(ctx);
}

void tlm_context_rope_freqs(tlm_context *ctx)
{
    const tlm_config *c = &ctx->m->cfg;
    int32_t d = c->rope_dim;
    /* dynamic NTK (Qwen v1): base' = base * alpha^(d / (d - 2)), in double as its Python */
    float base = c->rope_theta;
    if (ctx->ntk_alpha != 1.0f)
        base = (float)((double)c->rope_theta * pow((double)ctx->ntk_alpha, (double)d / (d - 2)));
    const float *ext = !c->longrope ? NULL : ctx->long_factors ? c->rope_long : c->rope_short;
    /* inv_freq[i] = 1 / (ext[i] * base^(2i / d)), in fp32 as the reference implementations */
    for (int32_t i = 0; i < d / 2; i++) {
        float f = powf(base, (float)(2 * i) / (float)d);
        ctx->inv_freq[i] = ext ? 1.0f / (ext[i] * f) : 1.0f / f;
    }
}

/* Qwen v1's get_ntk_alpha for a first forward of L tokens, exactly as its Python computes
 * it: 2^ceil(log(L / seq_length, 2) + 1) - 1, at least 1. */
static float ntk_alpha_for(int32_t L, int32_t seq_length)
{
    double cv = log((double)L / (double)seq_length) / log(2.0) + 1.0;
    double alpha = pow(2.0, ceil(cv)) - 1.0;
    return alpha < 1.0 ? 1.0f : (float)alpha;
}

/* ---- evaluation -------------------------------------------------------------------------- */

bool tlm_context_empty(const tlm_context *ctx)
{
    for (int32_t s = 0; s < ctx->n_seq_max; s++)
        if (ctx->seqs[s].n_used || ctx->seqs[s].n_past) return false;
    return true;
}

/* dynamic NTK: alpha from the first forward on an empty cache (the whole call, as the
 * reference's prefill), kept while the cache holds keys rotated with it */
void tlm_context_first_ntk(tlm_context *ctx, int32_t L)
{
    if (ctx->ntk_param != 0.0f || !tlm_context_empty(ctx)) return;
    float alpha = ntk_alpha_for(L, ctx->m->cfg.orig_ctx);
    if (alpha != ctx->ntk_alpha) {
        ctx->ntk_alpha = alpha;
        tlm_context_rope_freqs(ctx);
    }
}

void tlm_context_undo_batch(tlm_context *ctx, int32_t n)
{
    for (int32_t t = 0; t < n; t++)
        ctx->seqs[ctx->b_seq[t]].tokens[ctx->b_pos[t]] = -1;
}

void tlm_context_make_room(tlm_context *ctx, int32_t n)
{
    if (ctx->sq->n_used + n <= ctx->n_cells) return;
    int32_t lowest = ctx->sq->n_past - ctx->window + 1, f = 0; /* lowest visible position */
    while (f < ctx->sq->n_used && ctx->sq->cell_pos[f] < lowest)
        f++;
    tlm_context_drop_cells(ctx, 0, f);
}

tlm_status tlm_context_eval(tlm_context *ctx, const int32_t *tokens, int32_t n_tokens,
                            float *all_logits)
{
    if (!ctx) return TLM_ERR_ARG;
    ctx->error[0] = '\0';
    if (!tokens || n_tokens < 1)
        return ctx_fail(ctx, TLM_ERR_ARG, "eval: need at least one token (got %d)", n_tokens);
    /* the room first: a count that cannot fit is refused before any id is read */
    if (n_tokens > ctx->n_ctx - ctx->sq->n_past)
        return ctx_fail(ctx, TLM_ERR_CONTEXT_FULL,
                        "eval: %d tokens do not fit: %d of %d "
                        "positions are used",
                        n_tokens, ctx->sq->n_past, ctx->n_ctx);
    int32_t vocab = ctx->m->cfg.vocab_size;
    for (int32_t i = 0; i < n_tokens; i++)
        if (tokens[i] < 0 || tokens[i] >= vocab)
            return ctx_fail(ctx, TLM_ERR_ARG, "eval: token %d at index %d is outside [0, %d)",
                            tokens[i], i, vocab);
    tlm_context_first_ntk(ctx, n_tokens);
    tlm_seq *sq = ctx->sq;
    for (int32_t s = 0; s < n_tokens; s += ctx->n_batch) {
        int32_t n = n_tokens - s < ctx->n_batch ? n_tokens - s : ctx->n_batch;
        float *rows = all_logits ? all_logits + (int64_t)s * vocab : NULL;
        tlm_context_make_room(ctx, n);
        for (int32_t t = 0; t < n; t++) { /* a batch of this sequence's next positions */
            ctx->b_seq[t] = (int32_t)(sq - ctx->seqs);
            ctx->b_pos[t] = sq->n_past + t;
            ctx->b_cell[t] = sq->cell0 + sq->n_used + t;
        }
        tlm_forward(ctx, tokens + s, n, rows, s + n == n_tokens);
        if (ctx->cancelled) { /* tlm_context_set_abort: the unfinished chunk leaves no trace */
            tlm_context_undo_batch(ctx, n);
            ctx->cancelled = false;
            ctx->has_logits = false;
            return ctx_fail(ctx, TLM_ERR_CANCELLED,
                            "eval: cancelled by the abort callback; %d "
                            "positions are in the cache",
                            ctx->sq->n_past);
        }
    }
    return TLM_OK;
}

const float *tlm_context_logits(const tlm_context *ctx)
{
    return ctx && ctx->has_logits ? ctx->logits : NULL;
}

int32_t tlm_context_n_past(const tlm_context *ctx) { return ctx ? ctx->sq->n_past : 0; }
int32_t tlm_context_n_ctx(const tlm_context *ctx) { return ctx ? ctx->n_ctx : 0; }

const int32_t *tlm_context_tokens(const tlm_context *ctx, int32_t *n)
{
    if (n) *n = ctx ? ctx->sq->n_past : 0;
    return ctx ? ctx->sq->tokens : NULL;
}

const int32_t *tlm_context_seq_tokens(const tlm_context *ctx, int32_t seq, int32_t *n)
{
    bool ok = ctx && seq >= 0 && seq < ctx->n_seq_max;
    if (n) *n = ok ? ctx->seqs[seq].n_past : 0;
    return ok ? ctx->seqs[seq].tokens : NULL;
}

void tlm_context_reset(tlm_context *ctx)
{
    if (!ctx) return;
    for (int32_t s = 0; s < ctx->n_seq_max; s++) { /* every sequence */
        tlm_seq *sq = &ctx->seqs[s];
        for (int32_t i = 0; i < sq->n_past; i++)
            sq->tokens[i] = -1;
        sq->n_past = 0;
        sq->n_used = 0;
    }
    ctx->has_logits = false;
}

const char *tlm_context_error(const tlm_context *ctx) { return ctx ? ctx->error : "NULL context"; }
