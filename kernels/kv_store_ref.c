/* kv_store_ref.c - a float row into a KV cache's element type, the reference: F32 copied,
 * F16 by tlm_f32_to_f16 element by element, Q8_0 by tlm_quantize_q8_0_ref. */
#include <string.h>

#include "kernels_impl.h"
#include "quant.h"

void tlm_store_kv_f32_ref(void *dst, const float *src, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void tlm_store_kv_f16_ref(void *dst, const float *src, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = tlm_f32_to_f16(src[i]);
}

void tlm_store_kv_q8_0_ref(void *dst, const float *src, int64_t n)
{
    tlm_quantize_q8_0_ref(dst, src, n);
}
