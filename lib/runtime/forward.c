/* forward.c - the transformer forward pass, one batch of tokens at a time. Every family runs
 * this one function; each architecture feature is a config field read where it acts.
 * Math per feature: docs/architectures.md Part 1. */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "context.h"

/* y[t][r] += bias[r] for rows [r0, r1) of p (none without a bias). */
static void add_bias(const tlm_proj *p, float *y, int64_t ldy, int64_t n_tok, int64_t r0,
                     int64_t r1)
{
    for (int64_t t = 0; p->bias && t < n_tok; t++)
        for (int64_t r = r0; r < r1 && r < p->rows; r++)
            y[t * ldy + r] += p->bias[r];
}

/* A matrix stored as BF16 multiplies x rounded to bf16 (nearest even; kernels.h, the BF16
 * slots' contract), as llama.cpp's BF16 dot does: the products are then exact in float and
 * every kernel and ISA (and the OpenBLAS path) sees the same inputs. Rounded here, once per
 * projection, into ctx->x_bf16 ([n_tok][cols], planned only for models with BF16 matrices);
 * NULL when no part of p is BF16. */
static const float *round_bf16(const tlm_context *ctx, const tlm_proj *p, const float *x,
                               int64_t ldx, int64_t n_tok)
{
    bool any = false;
    for (int i = 0; i < p->n_parts; i++)
        any |= p->part[i].type == TLM_TYPE_BF16;
    if (!any) return NULL;
    const int64_t cols = p->part[0].cols; /* the parts of a projection share their input */
    float *xr = ctx->x_bf16;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n_tok > 1)
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t i = 0; i < cols; i++)
            xr[t * cols + i] = tlm_bf16_round(x[t * ldx + i]);
    return xr;
}

/* y[t][r] = W x[t] for each part of p stacked along r, plus the bias. Rows are split into
 * one contiguous range per thread; each output is summed by one kernel call, so results
 * do not depend on the thread count. */
static void project(const tlm_context *ctx, const tlm_proj *p, const float *x, int64_t ldx,
                    int64_t n_tok, float *y, int64_t ldy)
{
    if (ctx->observer) tlm_observe_matmul(ctx, p, x, ldx, n_tok); /* importance matrices */
    const float *xr = round_bf16(ctx, p, x, ldx, n_tok);          /* NULL: no BF16 part */
    const int64_t ldr = p->part[0].cols;
    if (tlm_blas_takes(ctx, p, n_tok)) { /* the OpenBLAS comparison path */
        tlm_blas_project(ctx, p, x, ldx, xr, n_tok, y, ldy);
        add_bias(p, y, ldy, n_tok, 0, p->rows);
        return;
    }
    /* One parallel region over the stacked rows of all parts: each thread takes a contiguous
     * range of them (a multiple of 16) and runs the kernel on its share of each part. */
#pragma omp parallel num_threads(ctx->n_threads)
    {
        int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t chunk = ((p->rows + nt - 1) / nt + 15) & ~(int64_t)15;
        int64_t lo = t * chunk, hi = lo + chunk, at = 0;
        for (int i = 0; i < p->n_parts; i++) {
            const tlm_matrix *w = &p->part[i];
            int64_t r0 = lo > at ? lo - at : 0, r1 = hi - at < w->rows ? hi - at : w->rows;
            tlm_matmul_fn mm = w->il ? ctx->k->matmul_il[w->type] : ctx->k->matmul[w->type];
            const bool bf = w->type == TLM_TYPE_BF16;
            if (r0 < r1)
                mm(y + at, ldy, w->data, w->row_bytes, bf ? xr : x, bf ? ldr : ldx, n_tok, w->cols,
                   r0, r1);
            at += w->rows;
        }
        add_bias(p, y, ldy, n_tok, lo, hi); /* each thread on its own rows */
    }
}

static void norm(const tlm_context *ctx, float *out, const float *x, const float *w, const float *b,
                 int64_t n)
{
    const tlm_config *c = &ctx->m->cfg;
    if (c->norm == TLM_NORM_LAYER)
        ctx->k->layernorm(out, x, w, b, n, c->norm_eps);
    else
        ctx->k->rmsnorm(out, x, w, n, c->norm_eps);
}

static void add(float *y, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}

/* q and k of token t of the batch: optional QK-norm per head, RoPE at its position, then
 * Qwen's logn factor on q (after RoPE, as its reference; 1 when off or within orig_ctx). */
static void position_qk(const tlm_context *ctx, const tlm_block *blk, float *q, float *k, int t)
{
    const tlm_config *c = &ctx->m->cfg;
    int32_t hd = c->head_dim;
    if (c->qk_norm) {
        int64_t step = blk->qk_norm_per_head ? hd : 0;
        for (int h = 0; h < c->n_heads; h++)
            norm(ctx, q + h * hd, q + h * hd, blk->q_norm.w + h * step, NULL, hd);
        for (int h = 0; h < c->n_kv_heads; h++)
            norm(ctx, k + h * hd, k + h * hd, blk->k_norm.w + h * step, NULL, hd);
    }
    if (c->rope_dim == 0) return;
    const float *cs = ctx->rope_cos + t * (c->rope_dim / 2),
                *sn = ctx->rope_sin + t * (c->rope_dim / 2);
    ctx->k->rope(q, c->n_heads, hd, c->rope_dim, cs, sn, c->rope_neox);
    ctx->k->rope(k, c->n_kv_heads, hd, c->rope_dim, cs, sn, c->rope_neox);
    float f = ctx->q_scale[t];
    if (f != 1.0f)
        for (int64_t i = 0; i < (int64_t)c->n_heads * hd; i++)
            q[i] *= f;
}

/* Attention of applied layer a for the batch's n tokens: projections, RoPE, cache append
 * (token t into cell b_cell[t]), then attention over the visible keys of its own sequence,
 * which are the contiguous cells first_cell[t] .. b_cell[t] of its stripe. */
static void attention(tlm_context *ctx, const tlm_block *blk, int32_t a, int32_t n,
                      int32_t n_blocks)
{
    const tlm_config *c = &ctx->m->cfg;
    int64_t hd = c->head_dim, q_dim = c->n_heads * hd, kv_dim = c->n_kv_heads * hd;
    int64_t ld = blk->qkv.rows; /* q | k | v per token */
    project(ctx, &blk->qkv, ctx->xb, c->dim, n, ctx->qkv, ld);

    tlm_type kt = ctx->kv_type;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
    for (int t = 0; t < n; t++) {
        float *q = ctx->qkv + t * ld, *k = q + q_dim, *v = k + kv_dim;
        position_qk(ctx, blk, q, k, t);
        for (int g = 0; g < c->n_kv_heads; g++) { /* head-major cache: tlm_kv_at */
            tlm_store_kv(kt, tlm_kv_at(ctx, ctx->k_cache, a, g, ctx->b_cell[t]), k + g * hd, hd);
            tlm_store_kv(kt, tlm_kv_at(ctx, ctx->v_cache, a, g, ctx->b_cell[t]), v + g * hd, hd);
        }
    }
    int32_t group = c->n_heads / c->n_kv_heads; /* query heads per kv head */
    float scale = 1.0f / sqrtf((float)hd);
    int64_t scratch = tlm_attn_rows_scratch(ctx->n_cells, (int32_t)hd);
    tlm_attn_rows_fn attn_rows = ctx->k->attn_rows[kt];
    /* Blocks of whole GQA groups for several tokens of one sequence (block_starts) share each
     * key and value load; when they would leave threads idle (one token, few kv heads) or the
     * kernel is missing, one query at a time. (Decode takes blocks too when it can: a query's
     * result is then the same bits in any batch.) */
    if (attn_rows && n_blocks && (int64_t)n_blocks * c->n_kv_heads >= ctx->n_threads) {
        const int32_t *order = ctx->b_order, *start = ctx->b_block;
        /* round robin: a causal block costs more the later it is */
#pragma omp parallel for collapse(2) schedule(static, 1) num_threads(ctx->n_threads)
        for (int b = 0; b < n_blocks; b++) {
            for (int g = 0; g < c->n_kv_heads; g++) {
                const float *qr[TLM_ATTN_ROWS];
                float *orow[TLM_ATTN_ROWS];
                int32_t lo[TLM_ATTN_ROWS], hi[TLM_ATTN_ROWS], nq = 0;
                /* first cells never decrease within a sequence */
                int32_t base = ctx->first_cell[order[start[b]]];
                for (int i = start[b]; i < start[b + 1]; i++) {
                    int t = order[i];
                    for (int h = g * group; h < (g + 1) * group; h++, nq++) {
                        qr[nq] = ctx->qkv + t * ld + h * hd;
                        orow[nq] = ctx->att + t * q_dim + h * hd;
                        lo[nq] = ctx->first_cell[t] - base;
                        hi[nq] = ctx->b_cell[t] + 1 - base;
                    }
                }
                attn_rows(orow, qr, nq, lo, hi, tlm_kv_at(ctx, ctx->k_cache, a, g, base),
                          tlm_kv_at(ctx, ctx->v_cache, a, g, base), hd, (int32_t)hd, scale,
                          ctx->scores + omp_get_thread_num() * scratch);
            }
        }
    } else {
        tlm_attn_fn attn_head = ctx->k->attn_head[kt];
#pragma omp parallel for collapse(2) schedule(static, 1) num_threads(ctx->n_threads)
        for (int t = 0; t < n; t++) {
            for (int h = 0; h < c->n_heads; h++) {
                int32_t first = ctx->first_cell[t];
                attn_head(ctx->att + t * q_dim + h * hd, ctx->qkv + t * ld + h * hd,
                          tlm_kv_at(ctx, ctx->k_cache, a, h / group, first),
                          tlm_kv_at(ctx, ctx->v_cache, a, h / group, first), hd,
                          ctx->b_cell[t] - first + 1, (int32_t)hd, scale,
                          ctx->scores + omp_get_thread_num() * scratch);
            }
        }
    }
    project(ctx, &blk->out, ctx->att, q_dim, n, ctx->branch, c->dim);
}

/* MLP on ctx->xb into ctx->mlp: down(act(gate) * up), or down(act(up)) when not gated. */
static void mlp(tlm_context *ctx, const tlm_block *blk, int32_t n)
{
    const tlm_config *c = &ctx->m->cfg;
    int64_t ld = blk->gate_up.rows, h = c->hidden_dim;
    project(ctx, &blk->gate_up, ctx->xb, c->dim, n, ctx->hb, ld);
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
    for (int t = 0; t < n; t++) {
        float *g = ctx->hb + t * ld;
        if (!c->mlp_gated && c->act == TLM_ACT_SILU)
            ctx->k->silu_mul(g, ctx->m->ones, h);
        else if (!c->mlp_gated)
            ctx->k->gelu_tanh(g, h);
        else if (c->act == TLM_ACT_SILU)
            ctx->k->silu_mul(g, g + h, h);
        else
            ctx->k->gelu_tanh_mul(g, g + h, h);
    }
    project(ctx, &blk->down, ctx->hb, ld, n, ctx->mlp, c->dim);
}

/* Per token of the batch: cos and sin of its angles (times LongRoPE's attention factor),
 * Qwen's logn factor, its cell and token recorded in its sequence, and the first cell its
 * query sees (the window's lowest position in its stripe). */
static void positions(tlm_context *ctx, const int32_t *tokens, int32_t n)
{
    const tlm_config *c = &ctx->m->cfg;
    int32_t half = c->rope_dim / 2;
    float ms = ctx->rope_mscale;
    for (int t = 0; t < n; t++) {
        int32_t pos = ctx->b_pos[t];
        for (int i = 0; i < half; i++) {
            float angle = (float)pos * ctx->inv_freq[i]; /* fp32, as the references do */
            ctx->rope_cos[t * half + i] = ms == 1.0f ? cosf(angle) : cosf(angle) * ms;
            ctx->rope_sin[t * half + i] = ms == 1.0f ? sinf(angle) : sinf(angle) * ms;
        }
        /* logn[p] = log(p + 1) / log(seq_length) past seq_length (math.log(i, seq_length)) */
        ctx->q_scale[t] = ctx->logn && pos + 1 > c->orig_ctx
                              ? (float)(log((double)pos + 1.0) / log((double)c->orig_ctx))
                              : 1.0f;
        tlm_seq *sq = &ctx->seqs[ctx->b_seq[t]];
        int32_t cell = ctx->b_cell[t] - sq->cell0; /* within its stripe */
        sq->cell_pos[cell] = pos;
        sq->tokens[pos] = tokens[t];
        int32_t first = 0;
        if (ctx->window) { /* lowest cell with position > pos - window (cells are sorted) */
            int32_t lo = 0, hi = cell, want = pos - ctx->window + 1;
            while (lo < hi) {
                int32_t mid = lo + (hi - lo) / 2;
                if (sq->cell_pos[mid] < want)
                    lo = mid + 1;
                else
                    hi = mid;
            }
            first = lo;
        }
        ctx->first_cell[t] = sq->cell0 + first;
    }
}

/* Groups the batch's tokens by sequence (stable: b_order) and cuts that order into attention
 * blocks of at most per_block tokens of one sequence (b_block); returns the block count. */
static int32_t plan_blocks(tlm_context *ctx, int32_t n, int32_t per_block)
{
    if (!per_block) return 0;
    const int32_t *seq = ctx->b_seq;
    int32_t m = 0, n_blocks = 0;
    for (int32_t t = 0; t < n; t++) {
        int32_t u = 0;
        while (u < t && seq[u] != seq[t])
            u++;
        if (u < t) continue; /* its sequence was gathered at its first token */
        for (int32_t run = 0; u < n; u++) {
            if (seq[u] != seq[t]) continue;
            if (run++ % per_block == 0) ctx->b_block[n_blocks++] = m;
            ctx->b_order[m++] = u;
        }
    }
    ctx->b_block[n_blocks] = m;
    return n_blocks;
}

void tlm_forward(tlm_context *ctx, const int32_t *tokens, int32_t n, float *rows_out,
                 bool want_last)
{
    const tlm_model *m = ctx->m;
    const tlm_config *c = &m->cfg;
    int64_t dim = c->dim;

    for (int t = 0; t < n; t++) {
        float *x = ctx->x + t * dim;
        m->k->to_f32[m->embed.type](
            x, (const uint8_t *)m->embed.data + (uint64_t)tokens[t] * m->embed.row_bytes, dim);
        if (c->embed_scale != 1.0f)
            for (int64_t i = 0; i < dim; i++)
                x[i] *= c->embed_scale;
    }
    positions(ctx, tokens, n);
    int32_t group = c->n_heads / c->n_kv_heads;
    int32_t n_blocks = plan_blocks(ctx, n, group <= TLM_ATTN_ROWS ? TLM_ATTN_ROWS / group : 0);

    for (int32_t a = 0; a < tlm_config_n_apply(c); a++) {
        if (ctx->abort && ctx->abort(ctx->abort_user)) { /* tlm_context_set_abort */
            ctx->cancelled = true;
            return;
        }
        const tlm_block *blk = &m->blocks[tlm_config_block_of(c, a)];
        ctx->apply_at = a;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
        for (int t = 0; t < n; t++)
            norm(ctx, ctx->xb + t * dim, ctx->x + t * dim, blk->attn_norm.w, blk->attn_norm.b, dim);
        attention(ctx, blk, a, n, n_blocks);
        if (c->parallel_residual) { /* both branches read the same normed input */
            mlp(ctx, blk, n);
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
            for (int t = 0; t < n; t++) {
                add(ctx->x + t * dim, ctx->branch + t * dim, dim);
                add(ctx->x + t * dim, ctx->mlp + t * dim, dim);
            }
        } else {
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
            for (int t = 0; t < n; t++) {
                add(ctx->x + t * dim, ctx->branch + t * dim, dim);
                norm(ctx, ctx->xb + t * dim, ctx->x + t * dim, blk->ffn_norm.w, blk->ffn_norm.b,
                     dim);
            }
            mlp(ctx, blk, n);
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
            for (int t = 0; t < n; t++)
                add(ctx->x + t * dim, ctx->mlp + t * dim, dim);
        }
    }
    for (int t = 0; t < n; t++) { /* each sequence's cells were taken in order */
        tlm_seq *sq = &ctx->seqs[ctx->b_seq[t]];
        sq->n_used++;
        if (ctx->b_pos[t] >= sq->n_past) sq->n_past = ctx->b_pos[t] + 1;
    }
    if (ctx->req) { /* tlm_context_eval_outputs: the rows and hidden states it asked for */
        tlm_forward_outputs(ctx, n, want_last, project);
        return;
    }

    /* Final norm and LM head only for the rows someone reads. */
    int32_t first = rows_out ? 0 : n - 1;
    if (!rows_out && !want_last) return;
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n - first > 1)
    for (int t = first; t < n; t++)
        norm(ctx, ctx->xb + t * dim, ctx->x + t * dim, m->out_norm.w, m->out_norm.b, dim);
    int64_t vocab = c->vocab_size;
    float *dst = rows_out ? rows_out : ctx->logits;
    project(ctx, &m->head, ctx->xb + first * dim, dim, n - first, dst, vocab);
    if (want_last) {
        if (rows_out)
            memcpy(ctx->logits, rows_out + (int64_t)(n - 1) * vocab, (size_t)vocab * sizeof(float));
        ctx->has_logits = true;
    }
}
