/* arch.h - the architecture table: the one place that maps a family name (GGUF
 * general.architecture or HF model_type) to the features that family always has.
 * Features that differ between checkpoints of one family (biases, tied head, parallel
 * residual for StableLM, window) are read from the file's metadata and tensors instead. */
#ifndef TLM_ARCH_H
#define TLM_ARCH_H

#include <stdbool.h>

#include "config.h"

/* How a family names its tensors in HF checkpoints (GGUF names are the same for all). */
typedef enum tlm_hf_names {
    TLM_HF_LLAMA, /* model.layers.N.self_attn.q_proj, mlp.gate_proj, ... (+ Phi-3 fused) */
    TLM_HF_PHI2,  /* self_attn.dense, mlp.fc1/fc2, model.final_layernorm */
    TLM_HF_QWEN1, /* transformer.h.N.attn.c_attn, mlp.w1/w2/c_proj, transformer.ln_f */
} tlm_hf_names;

typedef struct tlm_arch {
    const char *gguf_name; /* general.architecture */
    const char *hf_type;   /* config.json model_type */
    tlm_norm_kind norm;
    bool gguf_rope_neox; /* GGUF rope layout (HF is always rotate-half) */
    bool mlp_gated;
    tlm_act act;           /* GGUF (no key for it) and a config.json that names none */
    bool always_parallel;  /* Phi-2: one norm feeds attention and MLP */
    bool embed_scale_sqrt; /* Gemma: embeddings x sqrt(dim) */
    bool hf_norm_plus_one; /* Gemma: HF stores w, gain is 1 + w (GGUF stores 1 + w) */
    bool ff_halved;        /* Qwen v1: real MLP width is intermediate_size / 2 */
    bool ntk_logn;         /* Qwen v1: dynamic NTK + logn attention past training length */
    bool hf_gelu_tanh;     /* Gemma: config.json "gelu" means tanh-GELU (HF's GemmaMLP) */
    bool hf_window_opt_in; /* Qwen2: sliding_window counts only with use_sliding_window,
                            * and then per layer (max_window_layers), which is not run */
    tlm_hf_names hf_names;
    /* Phi-3: its tokenizer files give every added token but these (space-separated) rstrip,
     * which GGUF cannot carry; the GGUF vocabulary gets the same rule (tokenizer_family.c).
     * NULL: the family's files declare no whitespace rule. */
    const char *rstrip_added_except;
} tlm_arch;

/* NULL when the name is not a supported architecture. */
const tlm_arch *tlm_arch_by_gguf(const char *name);
const tlm_arch *tlm_arch_by_hf(const char *model_type);

struct tlm_tokenizer;
/* Gives a tokenizer read from a GGUF file the rules its family's tokenizer files declare and
 * GGUF leaves out (tokenizer_family.c); nothing for other sources and families. */
void tlm_arch_tokenizer_rules(struct tlm_tokenizer *tok);

/* Comma-separated list of supported names, for error messages. */
const char *tlm_arch_gguf_names(void);
const char *tlm_arch_hf_names(void);

#endif
