/* forward_outputs.c - the end of the forward pass when tlm_context_eval_outputs asked for
 * more than the last token's logits: the final norm for the rows someone reads, the hidden
 * states, and the LM head on the selected tokens only, moved together so one projection
 * serves them all. */
#include <omp.h>
#include <string.h>

#include "context.h"

void tlm_forward_outputs(tlm_context *ctx, int32_t n, bool last, tlm_project_fn project)
{
    tlm_outputs_req *r = ctx->req;
    const tlm_model *m = ctx->m;
    const tlm_config *c = &m->cfg;
    int64_t dim = c->dim, vocab = c->vocab_size;
    const bool *mask = r->out->logits_mask;
    bool hidden = r->out->hidden != NULL;
    /* without a mask only the call's last token is selected */
#define SELECTED(t) (mask ? mask[r->done + (t)] : last && (t) == n - 1)
    /* the final norm for every row someone reads: all of them for hidden states */
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads) if (n > 1)
    for (int t = 0; t < n; t++) {
        if (!hidden && !SELECTED(t)) continue;
        float *out = ctx->xb + t * dim;
        const float *x = ctx->x + t * dim;
        if (c->norm == TLM_NORM_LAYER)
            ctx->k->layernorm(out, x, m->out_norm.w, m->out_norm.b, dim, c->norm_eps);
        else
            ctx->k->rmsnorm(out, x, m->out_norm.w, dim, c->norm_eps);
    }
    if (hidden)
        memcpy(r->out->hidden + (int64_t)r->done * dim, ctx->xb, (size_t)(n * dim) * sizeof(float));
    bool last_selected = last && SELECTED(n - 1);
    if (r->out->logits) {
        /* the selected rows moved to the front, in order, and one projection for them all */
        int32_t n_sel = 0;
        for (int32_t t = 0; t < n; t++)
            if (SELECTED(t)) {
                if (n_sel != t)
                    memmove(ctx->xb + n_sel * dim, ctx->xb + t * dim, (size_t)dim * sizeof(float));
                n_sel++;
            }
        float *dst = r->out->logits + r->rows * vocab;
        if (n_sel) project(ctx, &m->head, ctx->xb, dim, n_sel, dst, vocab);
        if (last_selected)
            memcpy(ctx->logits, dst + (int64_t)(n_sel - 1) * vocab, (size_t)vocab * sizeof(float));
        r->rows += n_sel;
    } else if (last_selected) {
        project(ctx, &m->head, ctx->xb + (n - 1) * dim, dim, 1, ctx->logits, vocab);
    }
#undef SELECTED
    if (last) ctx->has_logits = last_selected;
    r->done += n;
}
