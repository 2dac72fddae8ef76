/* table_neon.c - the slots AArch64's AdvSIMD (NEON, every ARMv8-A core) runs faster. Built
 * without extra flags: NEON and the f16 <-> f32 conversions (FCVTL/FCVTN) are baseline. Left
 * to the references: to_f32 of F32 (memcpy) and the matmul_il slots of Q8_0, Q4_0 and the
 * K-quants Q4_K..Q6_K (at this level their rows stay as stored: their NEON kernels read plain
 * GGUF rows); Q4_1, Q5_0, Q5_1, IQ4_NL, Q2_K, Q3_K and IQ4_XS read groups of 16 rows. */
#include "kernels_impl.h"

void tlm_kernels_add_neon(tlm_kernels *k)
{
    k->isa = "neon";
    k->matmul[TLM_DT_F32] = tlm_matmul_f32_neon;
    k->matmul[TLM_DT_F16] = tlm_matmul_f16_neon;
    k->matmul[TLM_DT_BF16] = tlm_matmul_bf16_neon;
    k->matmul_il[TLM_DT_F16] = tlm_matmul_il_f16_neon;
    k->matmul_il[TLM_DT_BF16] = tlm_matmul_il_bf16_neon;
    k->matmul[TLM_DT_Q8_0] = tlm_matmul_q8_0_neon;
    k->matmul[TLM_DT_Q4_0] = tlm_matmul_q4_0_neon;
    k->matmul[TLM_DT_Q4_K] = tlm_matmul_q4_K_neon;
    k->matmul[TLM_DT_Q5_K] = tlm_matmul_q5_K_neon;
    k->matmul[TLM_DT_Q6_K] = tlm_matmul_q6_K_neon;
    /* the types of issue 16: the x86 bodies on 4-lane vectors (qbody_neon.h) */
    k->matmul[TLM_DT_Q4_1] = tlm_matmul_q4_1_neon;
    k->matmul[TLM_DT_Q5_0] = tlm_matmul_q5_0_neon;
    k->matmul[TLM_DT_Q5_1] = tlm_matmul_q5_1_neon;
    k->matmul[TLM_DT_IQ4_NL] = tlm_matmul_iq4_nl_neon;
    k->matmul[TLM_DT_Q2_K] = tlm_matmul_q2_K_neon;
    k->matmul[TLM_DT_Q3_K] = tlm_matmul_q3_K_neon;
    k->matmul[TLM_DT_IQ4_XS] = tlm_matmul_iq4_xs_neon;
    /* and on groups of 16 rows (TLM_IL_STD, x86's layout): plain loads, no gathers */
    k->matmul_il[TLM_DT_Q4_1] = tlm_matmul_il_q4_1_neon;
    k->matmul_il[TLM_DT_Q5_0] = tlm_matmul_il_q5_0_neon;
    k->matmul_il[TLM_DT_Q5_1] = tlm_matmul_il_q5_1_neon;
    k->matmul_il[TLM_DT_IQ4_NL] = tlm_matmul_il_iq4_nl_neon;
    k->matmul_il[TLM_DT_Q2_K] = tlm_matmul_il_q2_K_neon;
    k->matmul_il[TLM_DT_Q3_K] = tlm_matmul_il_q3_K_neon;
    k->matmul_il[TLM_DT_IQ4_XS] = tlm_matmul_il_iq4_xs_neon;
    k->to_f32[TLM_DT_F16] = tlm_to_f32_f16_neon;
    k->to_f32[TLM_DT_BF16] = tlm_to_f32_bf16_neon;
    k->to_f32[TLM_DT_Q8_0] = tlm_to_f32_q8_0_neon;
    k->to_f32[TLM_DT_Q4_0] = tlm_to_f32_q4_0_neon;
    k->to_f32[TLM_DT_Q4_K] = tlm_to_f32_q4_K_neon;
    k->to_f32[TLM_DT_Q5_K] = tlm_to_f32_q5_K_neon;
    k->to_f32[TLM_DT_Q6_K] = tlm_to_f32_q6_K_neon;
    k->store_kv[TLM_DT_F16] = tlm_store_kv_f16_neon;
    k->store_kv[TLM_DT_Q8_0] = tlm_store_kv_q8_0_neon;
    k->dot_f32 = tlm_dot_f32_neon;
    k->axpy_f32 = tlm_axpy_f32_neon;
    k->attn_head[TLM_DT_F32] = tlm_attn_head_f32_neon;
    k->attn_head[TLM_DT_F16] = tlm_attn_head_f16_neon;
    k->attn_head[TLM_DT_Q8_0] = tlm_attn_head_q8_0_neon;
    k->attn_rows[TLM_DT_F32] = tlm_attn_rows_f32_neon;
    k->attn_rows[TLM_DT_F16] = tlm_attn_rows_f16_neon;
    k->attn_rows[TLM_DT_Q8_0] = tlm_attn_rows_q8_0_neon;
    k->rmsnorm = tlm_rmsnorm_neon;
    k->layernorm = tlm_layernorm_neon;
    k->silu_mul = tlm_silu_mul_neon;
    k->gelu_tanh_mul = tlm_gelu_tanh_mul_neon;
    k->gelu_tanh = tlm_gelu_tanh_neon;
    k->rope = tlm_rope_neon;
}
