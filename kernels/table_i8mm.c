/* table_i8mm.c - on top of the dot-product table, the quantized products with SMMLA
 * (FEAT_I8MM: a 2x8 by 8x2 int8 product into a 2x2 int32 tile) for the Q8_0 and Q4_0 prefill
 * tiles on rows, SDOT elsewhere. Q8_0 and Q4_0 matrices are interleaved at load (4-row groups)
 * and read by SDOT: on paper that beats SMMLA on either layout (docs/benchmarks.md), so the
 * SMMLA tiles serve only matrices left in rows. Only called when the CPU has it. */
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
