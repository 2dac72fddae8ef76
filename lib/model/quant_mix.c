/* quant_mix.c - the per-tensor types of llama-quantize's file types (quant_mix.h). Written
 * from llama.cpp's llama_tensor_get_type, keeping only what applies to the dense models
 * libtinylm runs: no experts, no Falcon, no 70B special case. */
#include <stdio.h>
#include <string.h>

#include "quant_mix.h"
#include "tensor.h"

static const struct {
    tlm_quant_mix mix;
    tlm_type base;
    uint32_t ftype; /* llama_ftype */
} mixes[] = {
    {TLM_MIX_Q2_K, TLM_TYPE_Q2_K, 10},     {TLM_MIX_Q3_K_S, TLM_TYPE_Q3_K, 11},
    {TLM_MIX_Q3_K_M, TLM_TYPE_Q3_K, 12},   {TLM_MIX_Q3_K_L, TLM_TYPE_Q3_K, 13},
    {TLM_MIX_Q4_K_S, TLM_TYPE_Q4_K, 14},   {TLM_MIX_Q4_K_M, TLM_TYPE_Q4_K, 15},
    {TLM_MIX_Q5_K_S, TLM_TYPE_Q5_K, 16},   {TLM_MIX_Q5_K_M, TLM_TYPE_Q5_K, 17},
    {TLM_MIX_IQ4_NL, TLM_TYPE_IQ4_NL, 25}, {TLM_MIX_IQ4_XS, TLM_TYPE_IQ4_XS, 30},
};

bool tlm_mix_base(tlm_quant_mix mix, tlm_type *base, uint32_t *ftype)
{
    for (size_t i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
        if (mixes[i].mix == mix) {
            *base = mixes[i].base;
            *ftype = mixes[i].ftype;
            return true;
        }
    return false;
}

/* llama.cpp's use_more_bits: the first and last eighth of the layers and every third between. */
static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

/* The rules before the block-size fallback. */
static tlm_type rule(tlm_quant_mix mix, tlm_type t, const tlm_mix_model *mm, const char *name,
                     bool is_head, int layer)
{
    const int n = mm->n_layers;
    if (is_head) return TLM_TYPE_Q6_K;
    if (has(name, "attn_v.weight")) {
        switch (mix) {
        case TLM_MIX_Q2_K:
            return mm->n_gqa >= 4 ? TLM_TYPE_Q4_K : TLM_TYPE_Q3_K;
        case TLM_MIX_Q3_K_M:
            return layer < 2 ? TLM_TYPE_Q5_K : TLM_TYPE_Q4_K;
        case TLM_MIX_Q3_K_L:
            return TLM_TYPE_Q5_K;
        case TLM_MIX_IQ4_NL:
        case TLM_MIX_IQ4_XS:
            return mm->n_gqa >= 4 ? TLM_TYPE_Q5_K : t;
        case TLM_MIX_Q4_K_M:
        case TLM_MIX_Q5_K_M:
            return more_bits(layer, n) ? TLM_TYPE_Q6_K : t;
        case TLM_MIX_Q4_K_S:
            return layer < 4 ? TLM_TYPE_Q5_K : t;
        default:
            return t;
        }
    }
    if (has(name, "ffn_down")) {
        switch (mix) {
        case TLM_MIX_Q2_K:
            return TLM_TYPE_Q3_K;
        case TLM_MIX_Q3_K_M:
            return layer < n / 16 ? TLM_TYPE_Q5_K : TLM_TYPE_Q4_K;
        case TLM_MIX_Q3_K_L:
            return TLM_TYPE_Q5_K;
        case TLM_MIX_Q4_K_M:
        case TLM_MIX_Q5_K_M:
            return more_bits(layer, n) ? TLM_TYPE_Q6_K : t;
        case TLM_MIX_IQ4_NL:
        case TLM_MIX_IQ4_XS:
            return layer < n / 8 && !mm->has_imatrix ? TLM_TYPE_Q5_K : t;
        case TLM_MIX_Q4_K_S:
            return layer < n / 8 ? TLM_TYPE_Q5_K : t;
        default:
            return t;
        }
    }
    if (has(name, "attn_output.weight")) {
        switch (mix) {
        case TLM_MIX_Q2_K:
            return TLM_TYPE_Q3_K;
        case TLM_MIX_Q3_K_M:
            return TLM_TYPE_Q4_K;
        case TLM_MIX_Q3_K_L:
            return TLM_TYPE_Q5_K;
        default:
            return t;
        }
    }
    if (has(name, "attn_qkv.weight")) {
        switch (mix) {
        case TLM_MIX_Q3_K_M:
        case TLM_MIX_Q3_K_L:
            return TLM_TYPE_Q4_K;
        case TLM_MIX_Q4_K_M:
            return TLM_TYPE_Q5_K;
        case TLM_MIX_Q5_K_M:
            return TLM_TYPE_Q6_K;
        default:
            return t;
        }
    }
    return t;
}

static bool fits(tlm_type t, int64_t cols)
{
    uint64_t rb;
    return tlm_type_row_bytes(t, cols, &rb);
}

tlm_type tlm_mix_type(tlm_quant_mix mix, tlm_type base, const tlm_mix_model *mm, const char *name,
                      bool is_head, int64_t cols, char *note, size_t cap)
{
    note[0] = '\0';
    int layer = 0;
    if (sscanf(name, "blk.%d.", &layer) != 1) layer = 0;
    /* the head falls to Q8_0 at once when the base type's blocks do not divide its rows */
    if (is_head && !fits(base, cols)) {
        snprintf(note, cap, "rows of %ld are not whole %s blocks: written as Q8_0", (long)cols,
                 tlm_type_get((uint32_t)base)->name);
        return fits(TLM_TYPE_Q8_0, cols) ? TLM_TYPE_Q8_0 : TLM_TYPE_F16;
    }
    const tlm_type want = rule(mix, base, mm, name, is_head, layer);
    if (fits(want, cols)) return want;
    tlm_type fb;
    switch (want) {
    case TLM_TYPE_Q4_K:
        fb = TLM_TYPE_Q5_0;
        break;
    case TLM_TYPE_Q5_K:
        fb = TLM_TYPE_Q5_1;
        break;
    case TLM_TYPE_Q6_K:
        fb = TLM_TYPE_Q8_0;
        break;
    case TLM_TYPE_Q2_K:
    case TLM_TYPE_Q3_K:
    case TLM_TYPE_IQ4_XS:
        fb = TLM_TYPE_IQ4_NL;
        break;
    default:
        fb = TLM_TYPE_F16;
        break;
    }
    if (!fits(fb, cols)) fb = TLM_TYPE_F16;
    snprintf(note, cap, "rows of %ld are not whole %s blocks of %d: written as %s", (long)cols,
             tlm_type_get((uint32_t)want)->name, tlm_type_get((uint32_t)want)->block_elems,
             tlm_type_get((uint32_t)fb)->name);
    return fb;
}
