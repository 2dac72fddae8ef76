/* convert_avx512.c - F16 and BF16 rows to float with AVX-512 (exact, as the reference). */
#include "kernels_impl.h"
#include "simd_avx512.h"

void tlm_to_f32_f16_avx512(float *out, const void *src, int64_t n)
{
    row_to_f32(TLM_DT_F16, out, src, n);
}

void tlm_to_f32_bf16_avx512(float *out, const void *src, int64_t n)
{
    row_to_f32(TLM_DT_BF16, out, src, n);
}
