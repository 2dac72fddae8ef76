/* table_i8mm.c - on top of the dot-product table, the quantized products with SMMLA
 * (FEAT_I8MM: a 2x8 by 8x2 int8 product into a 2x2 int32 tile) for the prefill tiles of rows:
 * the K-quants, and Q8_0 / Q4_0 matrices left in rows. Q8_0 and Q4_0 are interleaved at load
 * (4-row groups) and read by SDOT, which on paper beats SMMLA on either layout
 * (docs/benchmarks.md). Only called when the CPU has it. */
#include "kernels_impl.h"

void tlm_kernels_add_i8mm(tlm_kernels *k)
{
    k->isa = "i8mm";
    k->matmul[TLM_DT_Q8_0] = tlm_matmul_q8_0_i8mm;
    k->matmul[TLM_DT_Q4_0] = tlm_matmul_q4_0_i8mm;
    k->matmul[TLM_DT_Q4_K] = tlm_matmul_q4_K_i8mm;
    k->matmul[TLM_DT_Q5_K] = tlm_matmul_q5_K_i8mm;
    k->matmul[TLM_DT_Q6_K] = tlm_matmul_q6_K_i8mm;
    /* Q8_0 and Q4_0 decode reads 4-row groups: one SDOT by element per 4 rows x 4 bytes */
    k->matmul_il[TLM_DT_Q8_0] = tlm_matmul_il_q8_0_i8mm;
    k->matmul_il[TLM_DT_Q4_0] = tlm_matmul_il_q4_0_i8mm;
    k->il_layout[TLM_DT_Q8_0] = TLM_IL_SDOT4;
    k->il_layout[TLM_DT_Q4_0] = TLM_IL_SDOT4;
}
