/* observe.c - tlm_context_set_matmul_observer: shows the caller the input of each weight
 * matrix product, under the name tlm_model_save gives that matrix in a GGUF file, so that an
 * importance matrix collected here matches the tensors tlm-quantize writes. */
#include <stdio.h>

#include "context.h"

void tlm_context_set_matmul_observer(tlm_context *ctx, tlm_matmul_observer fn, void *user)
{
    if (!ctx) return;
    ctx->observer = fn;
    ctx->observer_user = user;
}

/* The GGUF roles of p's parts when p is one of blk's projections; 0 parts when it is not. */
static int roles(const tlm_config *c, const tlm_block *blk, const tlm_proj *p, const char *r[3])
{
    if (p == &blk->qkv) {
        if (p->n_parts == 1) { /* fused and written fused (model_save.c) */
            r[0] = "attn_qkv";
            return 1;
        }
        r[0] = "attn_q", r[1] = "attn_k", r[2] = "attn_v";
        return 3;
    }
    if (p == &blk->out) return r[0] = "attn_output", 1;
    if (p == &blk->down) return r[0] = "ffn_down", 1;
    if (p == &blk->gate_up) {
        if (!c->mlp_gated || p->n_parts == 1) return r[0] = "ffn_up", 1; /* plain or [gate|up] */
        r[0] = "ffn_gate", r[1] = "ffn_up";
        return 2;
    }
    return 0;
}

void tlm_observe_matmul(const tlm_context *ctx, const tlm_proj *p, const float *x, int64_t ldx,
                        int64_t n_tok)
{
    const tlm_model *m = ctx->m;
    const tlm_config *c = &m->cfg;
    const int64_t n_in = p->part[0].cols;
    char name[64];
    if (p == &m->head) {
        /* a tied head is token_embd, which llama.cpp's imatrix does not collect either */
        if (c->tied_embeddings) return;
        ctx->observer(ctx->observer_user, "output.weight", x, ldx, n_tok, n_in);
        return;
    }
    const int32_t a = ctx->apply_at;
    const char *r[3];
    int n = roles(c, &m->blocks[tlm_config_block_of(c, a)], p, r);
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", (int)a, r[i]);
        ctx->observer(ctx->observer_user, name, x, ldx, n_tok, n_in);
    }
}
