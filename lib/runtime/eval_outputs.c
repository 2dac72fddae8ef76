/* eval_outputs.c - what an embedding program needs of a context beyond eval: cancellation
 * between layers, changing the thread count, choosing which tokens get logits and the final
 * hidden states (computed by forward_outputs.c, which the forward pass calls instead of the
 * head while tlm_context_eval_outputs runs). */
#include <stdio.h>

#include "context.h"

void tlm_context_set_abort(tlm_context *ctx, bool (*abort)(void *user), void *user)
{
    if (!ctx) return;
    ctx->abort = abort;
    ctx->abort_user = user;
}

tlm_status tlm_context_set_threads(tlm_context *ctx, int32_t n_threads)
{
    if (!ctx) return TLM_ERR_ARG;
    if (!ctx->n_threads_max) ctx->n_threads_max = ctx->n_threads; /* what scratch holds */
    if (n_threads < 1 || n_threads > ctx->n_threads_max) {
        snprintf(ctx->error, sizeof ctx->error,
                 "set_threads: n_threads %d is outside [1, %d] "
                 "(the count the context was created with)",
                 n_threads, ctx->n_threads_max);
        return TLM_ERR_ARG;
    }
    ctx->n_threads = n_threads;
    return TLM_OK;
}

int32_t tlm_context_n_threads(const tlm_context *ctx) { return ctx ? ctx->n_threads : 0; }

int32_t tlm_model_n_embd(const tlm_model *model) { return model ? model->cfg.dim : 0; }

tlm_status tlm_context_eval_outputs(tlm_context *ctx, const int32_t *tokens, int32_t n_tokens,
                                    const tlm_eval_outputs *out)
{
    if (!ctx || !out) return tlm_context_eval(ctx, tokens, n_tokens, NULL);
    tlm_outputs_req req = {.out = out};
    ctx->req = &req;
    tlm_status st = tlm_context_eval(ctx, tokens, n_tokens, NULL);
    ctx->req = NULL;
    return st;
}
