/* batch.c - several sequences in one context: tlm_context_eval_batch (check everything, then
 * one forward pass over tokens of any sequences) and the per-sequence edits. Each sequence
 * owns a stripe of the cache (context.h, tlm_seq), so an edit of one is the single-sequence
 * edit run with ctx->sq pointing at it, and a copy is a copy of the stripe. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "context.h"

static tlm_status batch_fail(tlm_context *ctx, tlm_status st, const char *fmt, ...)
    TLM_PRINTF(3, 4);

static tlm_status batch_fail(tlm_context *ctx, tlm_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->error, sizeof ctx->error, fmt, ap);
    va_end(ap);
    return st;
}

/* Every check of tlm_context_eval_batch, before anything is written; fills each sequence's
 * b_count (its tokens in the batch) and the batch's sequence and position per token. */
static tlm_status check_batch(tlm_context *ctx, const tlm_batch *b)
{
    if (!b || !b->token)
        return batch_fail(ctx, TLM_ERR_ARG, "eval_batch: %s is NULL", b ? "token" : "batch");
    if (b->n_tokens < 1 || b->n_tokens > ctx->n_batch)
        return batch_fail(ctx, TLM_ERR_ARG,
                          "eval_batch: %d tokens; a batch holds 1 to %d (the "
                          "context's n_batch)",
                          b->n_tokens, ctx->n_batch);
    int32_t vocab = ctx->m->cfg.vocab_size;
    for (int32_t s = 0; s < ctx->n_seq_max; s++)
        ctx->seqs[s].b_count = 0;
    bool want = false;
    for (int32_t t = 0; t < b->n_tokens; t++) {
        int32_t id = b->token[t], s = b->seq_id ? b->seq_id[t] : 0;
        if (id < 0 || id >= vocab)
            return batch_fail(ctx, TLM_ERR_ARG,
                              "eval_batch: token %d at index %d is outside "
                              "[0, %d)",
                              id, t, vocab);
        if (s < 0 || s >= ctx->n_seq_max)
            return batch_fail(ctx, TLM_ERR_ARG,
                              "eval_batch: sequence id %d at index %d is "
                              "outside [0, %d) (the context's n_seq_max)",
                              s, t, ctx->n_seq_max);
        tlm_seq *sq = &ctx->seqs[s];
        int32_t prev = sq->b_count ? sq->b_last : sq->n_past - 1;
        int32_t pos = b->pos ? b->pos[t] : prev + 1;
        if (pos <= prev)
            return batch_fail(ctx, TLM_ERR_ARG,
                              "eval_batch: position %d of sequence %d at index "
                              "%d is not after %s %d",
                              pos, s, t,
                              sq->b_count ? "its previous position in the batch"
                                          : "its last cached position",
                              prev);
        if (pos >= ctx->n_ctx)
            return batch_fail(ctx, TLM_ERR_CONTEXT_FULL,
                              "eval_batch: position %d of sequence %d "
                              "at index %d is past the context (%d positions)",
                              pos, s, t, ctx->n_ctx);
        sq->b_count++;
        sq->b_last = pos;
        ctx->b_seq[t] = s;
        ctx->b_pos[t] = pos;
        want = want || (b->logits && b->logits[t]);
    }
    if (want && !b->out_logits)
        return batch_fail(ctx, TLM_ERR_ARG, "eval_batch: logits are wanted but out_logits is NULL");
    return TLM_OK;
}

tlm_status tlm_context_eval_batch(tlm_context *ctx, const tlm_batch *b)
{
    if (!ctx) return TLM_ERR_ARG;
    ctx->error[0] = '\0';
    tlm_status st = check_batch(ctx, b);
    if (st != TLM_OK) return st;
    int32_t n = b->n_tokens, longest = 0;
    for (int32_t s = 0; s < ctx->n_seq_max; s++)
        if (ctx->seqs[s].b_count > longest) longest = ctx->seqs[s].b_count;
    tlm_context_first_ntk(ctx, longest); /* a sequence's first call, as if alone */
    /* room in each window cache, then each sequence's new cells in order after its last */
    for (int32_t s = 0; s < ctx->n_seq_max; s++) {
        tlm_seq *sq = &ctx->seqs[s];
        if (!sq->b_count) continue;
        ctx->sq = sq;
        tlm_context_make_room(ctx, sq->b_count);
        sq->b_count = 0; /* now: cells taken so far */
    }
    ctx->sq = &ctx->seqs[0];
    for (int32_t t = 0; t < n; t++) {
        tlm_seq *sq = &ctx->seqs[ctx->b_seq[t]];
        ctx->b_cell[t] = sq->cell0 + sq->n_used + sq->b_count++;
    }
    tlm_eval_outputs out = {.logits_mask = b->logits, .logits = b->out_logits};
    tlm_outputs_req req = {.out = &out};
    ctx->req = b->logits ? &req : NULL; /* forward_outputs: the wanted rows only */
    tlm_forward(ctx, b->token, n, NULL, b->logits != NULL);
    ctx->req = NULL;
    if (!b->logits) ctx->has_logits = false;
    if (ctx->cancelled) {
        tlm_context_undo_batch(ctx, n);
        ctx->cancelled = false;
        ctx->has_logits = false;
        return batch_fail(ctx, TLM_ERR_CANCELLED,
                          "eval_batch: cancelled by the abort callback; "
                          "the batch left no tokens");
    }
    return TLM_OK;
}

int32_t tlm_context_n_seq_max(const tlm_context *ctx) { return ctx ? ctx->n_seq_max : 0; }
int32_t tlm_context_n_batch(const tlm_context *ctx) { return ctx ? ctx->n_batch : 0; }

int32_t tlm_context_seq_n_past(const tlm_context *ctx, int32_t seq)
{
    return ctx && seq >= 0 && seq < ctx->n_seq_max ? ctx->seqs[seq].n_past : 0;
}

static bool seq_ok(tlm_context *ctx, int32_t seq, const char *what)
{
    ctx->error[0] = '\0';
    if (seq >= 0 && seq < ctx->n_seq_max) return true;
    batch_fail(ctx, TLM_ERR_ARG,
               "%s: sequence id %d is outside [0, %d) (the context's "
               "n_seq_max)",
               what, seq, ctx->n_seq_max);
    return false;
}

tlm_status tlm_context_seq_remove(tlm_context *ctx, int32_t seq, int32_t p0, int32_t p1)
{
    if (!ctx) return TLM_ERR_ARG;
    if (!seq_ok(ctx, seq, "seq_remove")) return TLM_ERR_ARG;
    ctx->sq = &ctx->seqs[seq];
    tlm_status st = tlm_context_remove(ctx, p0, p1);
    ctx->sq = &ctx->seqs[0];
    return st;
}

tlm_status tlm_context_seq_shift(tlm_context *ctx, int32_t seq, int32_t p0, int32_t p1,
                                 int32_t delta)
{
    if (!ctx) return TLM_ERR_ARG;
    if (!seq_ok(ctx, seq, "seq_shift")) return TLM_ERR_ARG;
    ctx->sq = &ctx->seqs[seq];
    tlm_status st = tlm_context_shift(ctx, p0, p1, delta);
    ctx->sq = &ctx->seqs[0];
    return st;
}

/* Forgets every position of sq. */
static void clear_seq(tlm_seq *sq)
{
    for (int32_t i = 0; i < sq->n_past; i++)
        sq->tokens[i] = -1;
    sq->n_past = sq->n_used = 0;
}

tlm_status tlm_context_seq_keep(tlm_context *ctx, int32_t seq)
{
    if (!ctx) return TLM_ERR_ARG;
    if (!seq_ok(ctx, seq, "seq_keep")) return TLM_ERR_ARG;
    for (int32_t s = 0; s < ctx->n_seq_max; s++)
        if (s != seq) clear_seq(&ctx->seqs[s]);
    ctx->has_logits = false;
    return TLM_OK;
}

tlm_status tlm_context_seq_copy(tlm_context *ctx, int32_t src, int32_t dst)
{
    if (!ctx) return TLM_ERR_ARG;
    if (!seq_ok(ctx, src, "seq_copy") || !seq_ok(ctx, dst, "seq_copy")) return TLM_ERR_ARG;
    ctx->has_logits = false;
    if (src == dst) return TLM_OK;
    tlm_seq *a = &ctx->seqs[src], *d = &ctx->seqs[dst];
    clear_seq(d);
    size_t head = tlm_context_head_bytes(ctx), rows = (size_t)a->n_used;
    const tlm_config *c = &ctx->m->cfg;
    for (int32_t l = 0; l < tlm_config_n_apply(c); l++) /* one run per layer and head */
        for (int32_t g = 0; g < c->n_kv_heads; g++) {
            memcpy(tlm_kv_at(ctx, ctx->k_cache, l, g, d->cell0),
                   tlm_kv_at(ctx, ctx->k_cache, l, g, a->cell0), rows * head);
            memcpy(tlm_kv_at(ctx, ctx->v_cache, l, g, d->cell0),
                   tlm_kv_at(ctx, ctx->v_cache, l, g, a->cell0), rows * head);
        }
    memcpy(d->cell_pos, a->cell_pos, rows * sizeof(int32_t));
    memcpy(d->tokens, a->tokens, (size_t)a->n_past * sizeof(int32_t));
    d->n_past = a->n_past;
    d->n_used = a->n_used;
    return TLM_OK;
}
