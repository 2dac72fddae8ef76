/* table_avx512vnni.c - the quantized matmuls on vpdpbusd, over the AVX-512 table. Built with
 * the VNNI flags like its kernels; only called when the CPU has AVX-512 with VNNI. The level
 * keeps its name, "avx512". */
#include "kernels_impl.h"

void tlm_kernels_add_avx512vnni(tlm_kernels *k)
{
    k->matmul[TLM_DT_Q8_0] = tlm_matmul_q8_0_avx512vnni;
    k->matmul[TLM_DT_Q4_0] = tlm_matmul_q4_0_avx512vnni;
    k->matmul[TLM_DT_Q4_K] = tlm_matmul_q4_K_avx512vnni;
    k->matmul[TLM_DT_Q5_K] = tlm_matmul_q5_K_avx512vnni;
    k->matmul[TLM_DT_Q6_K] = tlm_matmul_q6_K_avx512vnni;
    k->matmul[TLM_DT_Q2_K] = tlm_matmul_q2_K_avx512vnni;
    k->matmul[TLM_DT_Q3_K] = tlm_matmul_q3_K_avx512vnni;
    k->matmul[TLM_DT_IQ4_XS] = tlm_matmul_iq4_xs_avx512vnni;
    k->matmul_il[TLM_DT_Q8_0] = tlm_matmul_il_q8_0_avx512vnni;
    k->matmul_il[TLM_DT_Q4_0] = tlm_matmul_il_q4_0_avx512vnni;
    k->matmul_il[TLM_DT_Q4_K] = tlm_matmul_il_q4_K_avx512vnni;
    k->matmul_il[TLM_DT_Q5_K] = tlm_matmul_il_q5_K_avx512vnni;
    k->matmul_il[TLM_DT_Q6_K] = tlm_matmul_il_q6_K_avx512vnni;
    k->matmul_il[TLM_DT_Q2_K] = tlm_matmul_il_q2_K_avx512vnni;
    k->matmul_il[TLM_DT_Q3_K] = tlm_matmul_il_q3_K_avx512vnni;
    k->matmul_il[TLM_DT_IQ4_XS] = tlm_matmul_il_iq4_xs_avx512vnni;
    /* the blocks of 32 (quant_b32.h): 16 rows per vpdpbusd, as Q4_0 */
    k->matmul[TLM_DT_Q4_1] = tlm_matmul_q4_1_avx512vnni;
    k->matmul[TLM_DT_Q5_0] = tlm_matmul_q5_0_avx512vnni;
    k->matmul[TLM_DT_Q5_1] = tlm_matmul_q5_1_avx512vnni;
    k->matmul[TLM_DT_IQ4_NL] = tlm_matmul_iq4_nl_avx512vnni;
    k->matmul_il[TLM_DT_Q4_1] = tlm_matmul_il_q4_1_avx512vnni;
    k->matmul_il[TLM_DT_Q5_0] = tlm_matmul_il_q5_0_avx512vnni;
    k->matmul_il[TLM_DT_Q5_1] = tlm_matmul_il_q5_1_avx512vnni;
    k->matmul_il[TLM_DT_IQ4_NL] = tlm_matmul_il_iq4_nl_avx512vnni;
}
