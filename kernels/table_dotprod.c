/* table_dotprod.c - on top of the NEON table, the quantized products by SDOT (ARMv8.2
 * FEAT_DotProd: 4 int8 products summed into each int32 lane). Only called when the CPU has
 * it; the float slots stay NEON's. */
#include "kernels_impl.h"

void tlm_kernels_add_dotprod(tlm_kernels *k)
{
    k->isa = "dotprod";
    k->matmul[TLM_DT_Q8_0] = tlm_matmul_q8_0_dotprod;
    k->matmul[TLM_DT_Q4_0] = tlm_matmul_q4_0_dotprod;
    k->matmul[TLM_DT_Q4_K] = tlm_matmul_q4_K_dotprod;
    k->matmul[TLM_DT_Q5_K] = tlm_matmul_q5_K_dotprod;
    k->matmul[TLM_DT_Q6_K] = tlm_matmul_q6_K_dotprod;
    k->matmul[TLM_DT_Q4_1] = tlm_matmul_q4_1_dotprod;
    k->matmul[TLM_DT_Q5_0] = tlm_matmul_q5_0_dotprod;
    k->matmul[TLM_DT_Q5_1] = tlm_matmul_q5_1_dotprod;
    k->matmul[TLM_DT_IQ4_NL] = tlm_matmul_iq4_nl_dotprod;
    k->matmul[TLM_DT_Q2_K] = tlm_matmul_q2_K_dotprod;
    k->matmul[TLM_DT_Q3_K] = tlm_matmul_q3_K_dotprod;
    k->matmul[TLM_DT_IQ4_XS] = tlm_matmul_iq4_xs_dotprod;
    k->matmul_il[TLM_DT_Q4_1] = tlm_matmul_il_q4_1_dotprod;
    k->matmul_il[TLM_DT_Q5_0] = tlm_matmul_il_q5_0_dotprod;
    k->matmul_il[TLM_DT_Q5_1] = tlm_matmul_il_q5_1_dotprod;
    k->matmul_il[TLM_DT_IQ4_NL] = tlm_matmul_il_iq4_nl_dotprod;
    k->matmul_il[TLM_DT_Q2_K] = tlm_matmul_il_q2_K_dotprod;
    k->matmul_il[TLM_DT_Q3_K] = tlm_matmul_il_q3_K_dotprod;
    k->matmul_il[TLM_DT_IQ4_XS] = tlm_matmul_il_iq4_xs_dotprod;
    /* Q8_0 and Q4_0 decode reads 4-row groups: one SDOT by element per 4 rows x 4 bytes */
    k->matmul_il[TLM_DT_Q8_0] = tlm_matmul_il_q8_0_dotprod;
    k->matmul_il[TLM_DT_Q4_0] = tlm_matmul_il_q4_0_dotprod;
    k->il_layout[TLM_DT_Q8_0] = TLM_IL_SDOT4;
    k->il_layout[TLM_DT_Q4_0] = TLM_IL_SDOT4;
}
