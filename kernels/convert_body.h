/* convert_body.h - F16 and BF16 rows to float, written once in the vector API of
 * simd_<isa>.h (its row_to_f32: F16 by the ISA's half conversion, BF16 by a 16-bit shift;
 * exact, as the reference) and compiled per ISA by convert_<isa>.c. */
#include "kernels_impl.h"

void TLM_ISA_FN(tlm_to_f32_f16)(float *out, const void *src, int64_t n)
{
    row_to_f32(TLM_DT_F16, out, src, n);
}

void TLM_ISA_FN(tlm_to_f32_bf16)(float *out, const void *src, int64_t n)
{
    row_to_f32(TLM_DT_BF16, out, src, n);
}
