/* config.h - the model description: dimensions plus one field per architecture feature.
 *
 * Format readers (gguf_config.c, hf_config.c, llama2c_read.c, presets.c) are the only code
 * that knows architecture names; they fill a tlm_config. The forward pass reads only these
 * fields, each where it acts. Definitions of every feature: docs/architectures.md Part 1. */
#ifndef TLM_CONFIG_H
#define TLM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

typedef enum tlm_norm_kind {
    TLM_NORM_RMS = 0,   /* x / sqrt(mean(x^2) + eps) * w */
    TLM_NORM_LAYER = 1, /* (x - mean) / sqrt(var + eps) * w + b */
} tlm_norm_kind;

typedef enum tlm_act {
    TLM_ACT_SILU = 0,
    TLM_ACT_GELU_TANH = 1,
} tlm_act;

/* Hard caps on what a file may declare; far above every seed model (docs/architectures.md)
 * and low enough that sizes computed from them cannot overflow 64 bits. */
enum {
    TLM_MAX_LAYERS = 512,
    TLM_MAX_DIM = 65536,
    TLM_MAX_HEADS = 1024,
    TLM_MAX_HEAD_DIM = 1024,
    TLM_MAX_VOCAB = 1 << 22,
    TLM_MAX_CTX = 1 << 22,
};

typedef struct tlm_config {
    char arch[32];      /* as the file named it; informational only */
    int32_t dim;        /* hidden size */
    int32_t hidden_dim; /* MLP width (the real one: Qwen v1's config value / 2) */
    int32_t n_layers;   /* stored blocks */
    int32_t n_heads, n_kv_heads, head_dim; /* MHA: equal heads; GQA: divisor; MQA: 1 */
    int32_t vocab_size;
    int32_t max_seq; /* training context */

    int32_t rope_dim; /* rotated dims per head (< head_dim: partial RoPE); even */
    float rope_theta;
    bool rope_neox; /* rotate-half pairs (i, i + rope_dim/2); else adjacent (2i, 2i+1) */

    tlm_norm_kind norm;
    float norm_eps;
    bool norm_plus_one; /* Gemma's HF weights: gain is (1 + w) */

    bool qk_norm;           /* norm over each head's q and k before RoPE (kind = norm) */
    int32_t sliding_window; /* 0: full causal; else query i sees keys j with i - j < window */
    bool layer_sharing;     /* each stored block is applied twice in a row (MobileLLM-LS) */
    bool parallel_residual; /* x + attn(n) + mlp(n), one norm (Phi-2) */
    bool mlp_gated;         /* down(act(gate) * up); else down(act(up)) */
    tlm_act act;
    bool tied_embeddings; /* LM head is the embedding matrix */
    float embed_scale;    /* 1, or sqrt(dim) for Gemma */

    int32_t bos_id, eos_id; /* -1: unknown */

    /* Long context (docs/long-context.md). orig_ctx is the training length the scaled
     * variants measure from: LongRoPE's original_max_position_embeddings, Qwen v1's
     * seq_length; 0 when the model has none of them. */
    int32_t orig_ctx;
    bool longrope; /* inv_freq[i] / factor[i]; short or long factors per context */
    const float *rope_short, *rope_long; /* LongRoPE: [rope_dim / 2] each, owned by the model */
    float rope_attn_factor;              /* LongRoPE: multiplies cos and sin (1 otherwise) */
    bool dynamic_ntk; /* Qwen v1: base * alpha^(d/(d-2)), alpha from the first eval */
    bool logn_attn;   /* Qwen v1: q at position p times log(p+1)/log(orig_ctx) past it */
} tlm_config;

/* Applied layers: n_layers, or twice that with layer sharing (each gets its own KV cache). */
static inline int32_t tlm_config_n_apply(const tlm_config *c)
{
    return c->layer_sharing ? 2 * c->n_layers : c->n_layers;
}

/* Stored block used by applied layer `a` (block-wise repeat: 0,0,1,1,...). */
static inline int32_t tlm_config_block_of(const tlm_config *c, int32_t a)
{
    return c->layer_sharing ? a / 2 : a;
}

/* Checks every dimension against the caps and against each other (heads divide, rope_dim
 * even and <= head_dim, ...). `what` names the source in the message. */
tlm_status tlm_config_validate(const tlm_config *c, const char *what, tlm_error *err);

#endif
