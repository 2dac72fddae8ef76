#include "arch.h"

#include <string.h>

/* One row per family; docs/architectures.md Part 2 is the source of every entry. */
static const tlm_arch table[] = {
    /* gguf       hf type      norm            neox   gated  act                par    sqrt   1+w
       ff/2   ntk    tanh   win    names         rstrip_added_except */
    {"llama", "llama", TLM_NORM_RMS, false, true, TLM_ACT_SILU, false, false, false, false, false,
     false, false, TLM_HF_LLAMA, NULL},
    {"llama", "mobilellm", TLM_NORM_RMS, false, true, TLM_ACT_SILU, false, false, false, false,
     false, false, false, TLM_HF_LLAMA, NULL},
    {"gemma", "gemma", TLM_NORM_RMS, true, true, TLM_ACT_GELU_TANH, false, true, true, false, false,
     true, false, TLM_HF_LLAMA, NULL},
    {"qwen", "qwen", TLM_NORM_RMS, true, true, TLM_ACT_SILU, false, false, false, true, true, false,
     false, TLM_HF_QWEN1, NULL},
    {"qwen2", "qwen2", TLM_NORM_RMS, true, true, TLM_ACT_SILU, false, false, false, false, false,
     false, true, TLM_HF_LLAMA, NULL},
    {"phi2", "phi", TLM_NORM_LAYER, true, false, TLM_ACT_GELU_TANH, true, false, false, false,
     false, false, false, TLM_HF_PHI2, NULL},
    {"phi3", "phi3", TLM_NORM_RMS, true, true, TLM_ACT_SILU, false, false, false, false, false,
     false, false, TLM_HF_LLAMA, "<unk> <s> <|endoftext|>"},
    {"stablelm", "stablelm", TLM_NORM_LAYER, true, true, TLM_ACT_SILU, false, false, false, false,
     false, false, false, TLM_HF_LLAMA, NULL},
};

#define N_ROWS (sizeof table / sizeof table[0])

const tlm_arch *tlm_arch_by_gguf(const char *name)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(table[i].gguf_name, name) == 0) return &table[i];
    return NULL;
}

const tlm_arch *tlm_arch_by_hf(const char *model_type)
{
    for (size_t i = 0; i < N_ROWS; i++)
        if (strcmp(table[i].hf_type, model_type) == 0) return &table[i];
    return NULL;
}

const char *tlm_arch_gguf_names(void) { return "llama, gemma, qwen, qwen2, phi2, phi3, stablelm"; }
const char *tlm_arch_hf_names(void)
{
    return "llama, mobilellm, gemma, qwen, qwen2, phi, phi3, stablelm";
}
