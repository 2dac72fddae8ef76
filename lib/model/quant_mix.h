/* quant_mix.h - which type each weight matrix gets when a model is saved at a llama-quantize
 * file type (tlm_quant_mix): the rules of llama.cpp's llama_tensor_get_type for dense models
 * (docs/quantization.md lists them per family). */
#ifndef TLM_QUANT_MIX_H
#define TLM_QUANT_MIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinylm.h"

/* What the rules read about the model. */
typedef struct tlm_mix_model {
    int32_t n_layers; /* blocks written (block_count) */
    int32_t n_gqa;    /* query heads per KV head */
    bool has_imatrix; /* an importance matrix is used (changes IQ4_NL / IQ4_XS's ffn_down) */
} tlm_mix_model;

/* The type of the matrix `name` (GGUF name, "blk.N." prefix for a layer's) with rows of cols
 * elements, under `mix` whose base type is `base`; is_head: the LM head, or the embedding
 * when it is the head. A type whose blocks do not divide cols falls back as llama-quantize
 * does (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, Q2_K / Q3_K / IQ4_XS -> IQ4_NL, then F16)
 * and `note` says so (empty otherwise). */
tlm_type tlm_mix_type(tlm_quant_mix mix, tlm_type base, const tlm_mix_model *mm, const char *name,
                      bool is_head, int64_t cols, char *note, size_t cap);

/* The base type of a mix and its general.file_type (llama_ftype); false for TLM_MIX_NONE or
 * an unknown value. */
bool tlm_mix_base(tlm_quant_mix mix, tlm_type *base, uint32_t *ftype);

#endif
