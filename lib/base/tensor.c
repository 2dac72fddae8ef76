#include "tensor.h"

#include "checked.h"

/* Block layouts as GGUF defines them, so quantized files load as they are. */
static const tlm_type_traits traits[] = {
    [TLM_TYPE_F32] = {"F32", 1, 4},
    [TLM_TYPE_F16] = {"F16", 1, 2},
    [TLM_TYPE_Q4_0] = {"Q4_0", 32, 18},
    [TLM_TYPE_Q8_0] = {"Q8_0", 32, 34},
    [TLM_TYPE_Q4_K] = {"Q4_K", 256, 144},
    [TLM_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [TLM_TYPE_Q6_K] = {"Q6_K", 256, 210},
    [TLM_TYPE_BF16] = {"BF16", 1, 2},
};

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
