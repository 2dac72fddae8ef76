/* table_avx512bf16.c - BF16 matrices by vdpbf16ps (matmul_lanes_avx512bf16.c), over the
 * AVX-512 table: the same 16-rows-in-lanes layout, so only the slot changes. Only called when
 * the CPU has AVX-512 with AVX512_BF16; the level keeps its name, "avx512". */
#include "kernels_impl.h"

void tlm_kernels_add_avx512bf16(tlm_kernels *k)
{
    k->matmul_il[TLM_DT_BF16] = tlm_matmul_lanes_bf16_avx512bf16;
}
