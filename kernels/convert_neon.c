/* convert_neon.c - F16 and BF16 rows to float with NEON (FCVTL; a 16-bit shift for BF16),
 * exact as the reference. */
#include "kernels_impl.h"
#include "simd_neon.h"

void tlm_to_f32_f16_neon(float *out, const void *src, int64_t n)
{
    row_to_f32(TLM_DT_F16, out, src, n);
}

void tlm_to_f32_bf16_neon(float *out, const void *src, int64_t n)
{
    row_to_f32(TLM_DT_BF16, out, src, n);
}
