#include "tensor.h"

#include "checked.h"

/* Block layouts as GGUF defines them, so quantized files load as they are. */
static const tlm_type_traits traits[] = {
    [TLM_TYPE_F32] = {"F32", 1, 4},
    [TLM_TYPE_F16] = {"F16", 1, 2},
    [TLM_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [TLM_TYPE_Q4_1] = {"Q4_1", 32, 20}, /* d, m (f16), 16 bytes of nibbles */
    [TLM_TYPE_Q5_0] = {"Q5_0", 32, 22}, /* d, qh[4], 16 bytes of nibbles */
    [TLM_TYPE_Q5_1] = {"Q5_1", 32, 24}, /* d, m, qh[4], 16 bytes of nibbles */
    [TLM_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [TLM_TYPE_Q2_K] = {"Q2_K", 256, 84},  /* scales[16], qs[64], d, dmin */
    [TLM_TYPE_Q3_K] = {"Q3_K", 256, 110}, /* hmask[32], qs[64], scales[12], d */
    [TLM_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [TLM_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [TLM_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [TLM_TYPE_IQ4_NL] = {"IQ4_NL", 32, 18},   /* d, 16 bytes of nibbles (codebook indices) */
    [TLM_TYPE_IQ4_XS] = {"IQ4_XS", 256, 136}, /* d, scales_h, scales_l[4], qs[128] */
    [TLM_TYPE_BF16] = {"BF16", 1, 2},
};

/* Every type id GGUF has given a name (ggml's type_traits), read or not, for messages. */
static const char *const gguf_names[] = {
    "F32",     "F16",   "Q4_0",   "Q4_1",  NULL,    NULL,     "Q5_0", "Q5_1",    "Q8_0",
    "Q8_1",    "Q2_K",  "Q3_K",   "Q4_K",  "Q5_K",  "Q6_K",   "Q8_K", "IQ2_XXS", "IQ2_XS",
    "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8",   "I16",     "I32",
    "I64",     "F64",   "IQ1_M",  "BF16",  NULL,    NULL,     NULL,   "TQ1_0",   "TQ2_0",
};

const char *tlm_type_gguf_name(uint32_t type)
{
    return type < sizeof gguf_names / sizeof gguf_names[0] ? gguf_names[type] : NULL;
}

const tlm_type_traits *tlm_type_get(uint32_t type)
{
    if (type >= sizeof traits / sizeof traits[0] || !traits[type].name) return NULL;
    return &traits[type];
}

bool tlm_type_row_bytes(tlm_type type, int64_t n, uint64_t *out)
{
    const tlm_type_traits *t = tlm_type_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_elems != 0) return false;
    return tlm_mul_u64((uint64_t)(n / t->block_elems), (uint64_t)t->block_bytes, out);
}
