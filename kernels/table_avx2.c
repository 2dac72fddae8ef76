/* table_avx2.c - the slots AVX2 + FMA + F16C run faster (to_f32 for F32 stays memcpy, rope
 * stays scalar). Built with the AVX2 flags like its kernels; only called when the CPU has them. */
#include "kernels_impl.h"

void tlm_kernels_add_avx2(tlm_kernels *k)
{
    k->isa = "avx2";
    k->matmul[TLM_DT_F32] = tlm_matmul_f32_avx2;
    k->matmul[TLM_DT_Q4_1] = tlm_matmul_q4_1_avx2;
    k->matmul[TLM_DT_Q5_0] = tlm_matmul_q5_0_avx2;
    k->matmul[TLM_DT_Q5_1] = tlm_matmul_q5_1_avx2;
    k->matmul[TLM_DT_IQ4_NL] = tlm_matmul_iq4_nl_avx2;
    k->matmul_il[TLM_DT_Q4_1] = tlm_matmul_il_q4_1_avx2;
    k->matmul_il[TLM_DT_Q5_0] = tlm_matmul_il_q5_0_avx2;
    k->matmul_il[TLM_DT_Q5_1] = tlm_matmul_il_q5_1_avx2;
    k->matmul_il[TLM_DT_IQ4_NL] = tlm_matmul_il_iq4_nl_avx2;
    k->matmul[TLM_DT_F16] = tlm_matmul_f16_avx2;
    k->matmul[TLM_DT_BF16] = tlm_matmul_bf16_avx2;
    /* 16 rows in the lanes (kernels.h, TLM_IL_LANES) */
    k->matmul_il[TLM_DT_F16] = tlm_matmul_lanes_f16_avx2;
    k->matmul_il[TLM_DT_BF16] = tlm_matmul_lanes_bf16_avx2;
    k->il_layout[TLM_DT_F16] = TLM_IL_LANES;
    k->il_layout[TLM_DT_BF16] = TLM_IL_LANES;
    k->matmul[TLM_DT_Q8_0] = tlm_matmul_q8_0_avx2;
    k->matmul[TLM_DT_Q4_0] = tlm_matmul_q4_0_avx2;
    k->matmul[TLM_DT_Q4_K] = tlm_matmul_q4_K_avx2;
    k->matmul[TLM_DT_Q5_K] = tlm_matmul_q5_K_avx2;
    k->matmul[TLM_DT_Q6_K] = tlm_matmul_q6_K_avx2;
    k->matmul[TLM_DT_Q2_K] = tlm_matmul_q2_K_avx2;
    k->matmul[TLM_DT_Q3_K] = tlm_matmul_q3_K_avx2;
    k->matmul[TLM_DT_IQ4_XS] = tlm_matmul_iq4_xs_avx2;
    k->matmul_il[TLM_DT_Q8_0] = tlm_matmul_il_q8_0_avx2;
    k->matmul_il[TLM_DT_Q4_0] = tlm_matmul_il_q4_0_avx2;
    k->matmul_il[TLM_DT_Q4_K] = tlm_matmul_il_q4_K_avx2;
    k->matmul_il[TLM_DT_Q5_K] = tlm_matmul_il_q5_K_avx2;
    k->matmul_il[TLM_DT_Q6_K] = tlm_matmul_il_q6_K_avx2;
    k->matmul_il[TLM_DT_Q2_K] = tlm_matmul_il_q2_K_avx2;
    k->matmul_il[TLM_DT_Q3_K] = tlm_matmul_il_q3_K_avx2;
    k->matmul_il[TLM_DT_IQ4_XS] = tlm_matmul_il_iq4_xs_avx2;
    k->to_f32[TLM_DT_F16] = tlm_to_f32_f16_avx2;
    k->to_f32[TLM_DT_BF16] = tlm_to_f32_bf16_avx2;
    k->to_f32[TLM_DT_Q8_0] = tlm_to_f32_q8_0_avx2;
    k->to_f32[TLM_DT_Q4_0] = tlm_to_f32_q4_0_avx2;
    k->to_f32[TLM_DT_Q4_K] = tlm_to_f32_q4_K_avx2;
    k->to_f32[TLM_DT_Q5_K] = tlm_to_f32_q5_K_avx2;
    k->to_f32[TLM_DT_Q6_K] = tlm_to_f32_q6_K_avx2;
    k->store_kv[TLM_DT_F16] = tlm_store_kv_f16_avx2;
    k->store_kv[TLM_DT_Q8_0] = tlm_store_kv_q8_0_avx2;
    k->dot_f32 = tlm_dot_f32_avx2;
    k->axpy_f32 = tlm_axpy_f32_avx2;
    k->attn_head[TLM_DT_F32] = tlm_attn_head_f32_avx2;
    k->attn_head[TLM_DT_F16] = tlm_attn_head_f16_avx2;
    k->attn_head[TLM_DT_Q8_0] = tlm_attn_head_q8_0_avx2;
    k->attn_rows[TLM_DT_F32] = tlm_attn_rows_f32_avx2;
    k->attn_rows[TLM_DT_F16] = tlm_attn_rows_f16_avx2;
    k->attn_rows[TLM_DT_Q8_0] = tlm_attn_rows_q8_0_avx2;
    k->rmsnorm = tlm_rmsnorm_avx2;
    k->layernorm = tlm_layernorm_avx2;
    k->silu_mul = tlm_silu_mul_avx2;
    k->gelu_tanh_mul = tlm_gelu_tanh_mul_avx2;
    k->gelu_tanh = tlm_gelu_tanh_avx2;
}
