/* context_edit.c - editing a context's cache: remove a range of positions, shift a range to
 * new positions. A shift rotates the cached keys by the angle of the position change (RoPE is
 * a rotation), so nothing is recomputed; values do not depend on position. */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "context.h"

static tlm_status edit_fail(tlm_context *ctx, tlm_status st, const char *fmt, ...) TLM_PRINTF(3, 4);

static tlm_status edit_fail(tlm_context *ctx, tlm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    return st;
}

/* Index of the first cell in use whose position is >= pos (cells are sorted). */
static int32_t cell_at_or_after(const tlm_context *ctx, int32_t pos)
{
    int32_t lo = 0, hi = ctx->sq->n_used;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (ctx->sq->cell_pos[mid] < pos)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool has_cell(const tlm_context *ctx, int32_t pos)
{
    int32_t i = cell_at_or_after(ctx, pos);
    return i < ctx->sq->n_used && ctx->sq->cell_pos[i] == pos;
}

/* Resolves p1 < 0 (and past the end) to n_past; checks 0 <= p0 <= p1. */
static bool range_ok(tlm_context *ctx, int32_t p0, int32_t *p1, const char *what)
{
    if (*p1 < 0 || *p1 > ctx->sq->n_past) *p1 = ctx->sq->n_past;
    if (p0 < 0 || p0 > *p1) {
        edit_fail(ctx, TLM_ERR_ARG, "%s: range [%d, %d) is not within the %d positions used", what,
                  p0, *p1, ctx->sq->n_past);
        return false;
    }
    return true;
}

/* With a window cache, keys older than the window were dropped. After an edit the next
 * query (at new_past) must still find every key of its window that has a token: position x
 * of the edited sequence came from old position src(x) (-1: now empty). */
static bool window_complete(tlm_context *ctx, int32_t new_past, int32_t p0, int32_t p1,
                            int32_t delta, bool removed, const char *what)
{
    if (!ctx->window || ctx->n_cells == ctx->n_ctx) return true;
    int32_t lo = new_past - ctx->window + 1;
    for (int32_t x = lo < 0 ? 0 : lo; x < new_past; x++) {
        int32_t src = x;
        if (removed)
            src = x >= p0 && x < p1 ? -1 : x;
        else if (x - delta >= p0 && x - delta < p1)
            src = x - delta;
        else if (x >= p0 && x < p1)
            src = -1;
        if (src >= 0 && src < ctx->sq->n_past && ctx->sq->tokens[src] >= 0 && !has_cell(ctx, src)) {
            edit_fail(ctx, TLM_ERR_UNSUPPORTED,
                      "%s: position %d (window of position %d) has left "
                      "the sliding-window cache; use full_cache to keep every position",
                      what, src, new_past);
            return false;
        }
    }
    return true;
}

void tlm_context_drop_cells(tlm_context *ctx, int32_t i0, int32_t i1)
{
    size_t head = tlm_context_head_bytes(ctx), tail = (size_t)(ctx->sq->n_used - i1);
    for (int32_t a = 0; a < tlm_config_n_apply(&ctx->m->cfg); a++)
        for (int32_t g = 0; g < ctx->m->cfg.n_kv_heads; g++) {
            memmove(tlm_kv_cell(ctx, ctx->k_cache, a, g, i0),
                    tlm_kv_cell(ctx, ctx->k_cache, a, g, i1), tail * head);
            memmove(tlm_kv_cell(ctx, ctx->v_cache, a, g, i0),
                    tlm_kv_cell(ctx, ctx->v_cache, a, g, i1), tail * head);
        }
    memmove(ctx->sq->cell_pos + i0, ctx->sq->cell_pos + i1, tail * sizeof(int32_t));
    ctx->sq->n_used -= i1 - i0;
}

tlm_status tlm_context_remove(tlm_context *ctx, int32_t p0, int32_t p1)
{
    if (!ctx) return TLM_ERR_ARG;
    ctx->error[0] = '\0';
    if (!range_ok(ctx, p0, &p1, "remove")) return TLM_ERR_ARG;
    int32_t new_past = p1 == ctx->sq->n_past ? p0 : ctx->sq->n_past;
    if (!window_complete(ctx, new_past, p0, p1, 0, true, "remove")) return TLM_ERR_UNSUPPORTED;
    tlm_context_drop_cells(ctx, cell_at_or_after(ctx, p0), cell_at_or_after(ctx, p1));
    for (int32_t x = p0; x < p1; x++)
        ctx->sq->tokens[x] = -1;
    ctx->sq->n_past = new_past;
    ctx->has_logits = false;
    return TLM_OK;
}

/* Rotates the keys of cells [i0, i1) from their positions to position + delta: per rotary
 * pair, by the difference of the fp32 angles the forward pass uses at the two positions
 * (taken in double), so the result is the key as computed at the new position up to one
 * rounding. Without LongRoPE's attention factor: the cached key already carries it. */
static void rotate_cells(tlm_context *ctx, int32_t i0, int32_t i1, int32_t delta)
{
    const tlm_config *c = &ctx->m->cfg;
    int32_t half = c->rope_dim / 2, n_apply = tlm_config_n_apply(c);
    int64_t kv_dim = (int64_t)c->n_kv_heads * c->head_dim;
    tlm_type kt = ctx->kv_type;
    bool f32 = kt == TLM_TYPE_F32;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads)
    for (int32_t i = i0; i < i1; i++) {
        float *buf = ctx->row_buf + (int64_t)omp_get_thread_num() * (kv_dim + 2 * half);
        float *cs = buf + kv_dim, *sn = cs + half;
        int32_t from = ctx->sq->cell_pos[i], to = from + delta;
        for (int32_t j = 0; j < half; j++) {
            double d =
                (double)((float)to * ctx->inv_freq[j]) - (double)((float)from * ctx->inv_freq[j]);
            cs[j] = (float)cos(d);
            sn[j] = (float)sin(d);
        }
        for (int32_t a = 0; a < n_apply; a++)
            for (int32_t g = 0; g < c->n_kv_heads; g++) {
                uint8_t *k = tlm_kv_cell(ctx, ctx->k_cache, a, g, i);
                float *x = f32 ? (float *)k : buf;
                if (!f32) ctx->k->to_f32[kt](x, k, c->head_dim);
                ctx->k->rope(x, 1, c->head_dim, c->rope_dim, cs, sn, c->rope_neox);
                if (!f32) tlm_store_kv(kt, k, x, c->head_dim); /* Q8_0: requantized, one rounding */
            }
    }
}

tlm_status tlm_context_shift(tlm_context *ctx, int32_t p0, int32_t p1, int32_t delta)
{
    if (!ctx) return TLM_ERR_ARG;
    ctx->error[0] = '\0';
    if (!range_ok(ctx, p0, &p1, "shift")) return TLM_ERR_ARG;
    if (delta == 0 || p0 == p1) return TLM_OK;
    int64_t lo = (int64_t)p0 + delta, hi = (int64_t)p1 + delta;
    if (lo < 0 || hi > ctx->n_ctx)
        return edit_fail(ctx, TLM_ERR_ARG, "shift: [%d, %d) by %d leaves positions [0, %d)", p0, p1,
                         delta, ctx->n_ctx);
    /* the positions the range moves over must hold no token (order is kept) */
    int32_t g0 = delta < 0 ? (int32_t)lo : p1, g1 = delta < 0 ? p0 : (int32_t)hi;
    for (int32_t x = g0; x < g1 && x < ctx->sq->n_past; x++)
        if (ctx->sq->tokens[x] >= 0)
            return edit_fail(ctx, TLM_ERR_ARG,
                             "shift: [%d, %d) by %d would pass over position "
                             "%d, which holds a token (remove it first)",
                             p0, p1, delta, x);
    int32_t new_past = p1 == ctx->sq->n_past ? ctx->sq->n_past + delta : ctx->sq->n_past;
    if (!window_complete(ctx, new_past, p0, p1, delta, false, "shift")) return TLM_ERR_UNSUPPORTED;

    int32_t i0 = cell_at_or_after(ctx, p0), i1 = cell_at_or_after(ctx, p1);
    if (ctx->m->cfg.rope_dim > 0) rotate_cells(ctx, i0, i1, delta);
    for (int32_t i = i0; i < i1; i++)
        ctx->sq->cell_pos[i] += delta;
    memmove(ctx->sq->tokens + lo, ctx->sq->tokens + p0, (size_t)(p1 - p0) * sizeof(int32_t));
    for (int32_t x = p0; x < p1; x++) /* the vacated part of the old range */
        if (x < lo || x >= hi) ctx->sq->tokens[x] = -1;
    ctx->sq->n_past = new_past;
    ctx->has_logits = false;
    return TLM_OK;
}
