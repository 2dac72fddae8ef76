/* table_ref.c - the reference table: every slot valid, so SIMD levels only override. */
#include <string.h>

#include "kernels_impl.h"

void tlm_kernels_init_ref(tlm_kernels *k)
{
    memset(k, 0, sizeof *k); /* types without kernels stay NULL */
    k->isa = "ref";
    k->matmul[TLM_DT_F32] = tlm_matmul_f32_ref;
    k->matmul[TLM_DT_F16] = tlm_matmul_f16_ref;
    k->matmul[TLM_DT_BF16] = tlm_matmul_bf16_ref;
    k->matmul[TLM_DT_Q8_0] = tlm_matmul_q8_0_ref;
    k->matmul[TLM_DT_Q4_0] = tlm_matmul_q4_0_ref;
    k->matmul[TLM_DT_Q4_K] = tlm_matmul_q4_K_ref;
    k->matmul[TLM_DT_Q5_K] = tlm_matmul_q5_K_ref;
    k->matmul[TLM_DT_Q6_K] = tlm_matmul_q6_K_ref;
    k->matmul[TLM_DT_Q2_K] = tlm_matmul_q2_K_ref;
    k->matmul[TLM_DT_Q3_K] = tlm_matmul_q3_K_ref;
    k->matmul[TLM_DT_IQ4_XS] = tlm_matmul_iq4_xs_ref;
    k->to_f32[TLM_DT_F32] = tlm_to_f32_f32_ref;
    k->to_f32[TLM_DT_F16] = tlm_to_f32_f16_ref;
    k->to_f32[TLM_DT_BF16] = tlm_to_f32_bf16_ref;
    k->to_f32[TLM_DT_Q8_0] = tlm_to_f32_q8_0_ref;
    k->to_f32[TLM_DT_Q4_0] = tlm_to_f32_q4_0_ref;
    k->to_f32[TLM_DT_Q4_K] = tlm_to_f32_q4_K_ref;
    k->to_f32[TLM_DT_Q5_K] = tlm_to_f32_q5_K_ref;
    k->to_f32[TLM_DT_Q6_K] = tlm_to_f32_q6_K_ref;
    k->to_f32[TLM_DT_Q2_K] = tlm_to_f32_q2_K_ref;
    k->to_f32[TLM_DT_Q3_K] = tlm_to_f32_q3_K_ref;
    k->to_f32[TLM_DT_IQ4_XS] = tlm_to_f32_iq4_xs_ref;
    k->store_kv[TLM_DT_F32] = tlm_store_kv_f32_ref;
    k->store_kv[TLM_DT_F16] = tlm_store_kv_f16_ref;
    k->store_kv[TLM_DT_Q8_0] = tlm_store_kv_q8_0_ref;
    k->dot_f32 = tlm_dot_f32_ref;
    k->axpy_f32 = tlm_axpy_f32_ref;
    k->attn_head[TLM_DT_F32] = tlm_attn_head_f32_ref;
    k->attn_head[TLM_DT_F16] = tlm_attn_head_f16_ref;
    k->attn_head[TLM_DT_Q8_0] = tlm_attn_head_q8_0_ref;
    k->rmsnorm = tlm_rmsnorm_ref;
    k->layernorm = tlm_layernorm_ref;
    k->silu_mul = tlm_silu_mul_ref;
    k->gelu_tanh_mul = tlm_gelu_tanh_mul_ref;
    k->gelu_tanh = tlm_gelu_tanh_ref;
    k->rope = tlm_rope_ref;
    /* the blocks of 32 (quant_b32.h) */
    k->matmul[TLM_DT_Q4_1] = tlm_matmul_q4_1_ref;
    k->matmul[TLM_DT_Q5_0] = tlm_matmul_q5_0_ref;
    k->matmul[TLM_DT_Q5_1] = tlm_matmul_q5_1_ref;
    k->matmul[TLM_DT_IQ4_NL] = tlm_matmul_iq4_nl_ref;
    k->to_f32[TLM_DT_Q4_1] = tlm_to_f32_q4_1_ref;
    k->to_f32[TLM_DT_Q5_0] = tlm_to_f32_q5_0_ref;
    k->to_f32[TLM_DT_Q5_1] = tlm_to_f32_q5_1_ref;
    k->to_f32[TLM_DT_IQ4_NL] = tlm_to_f32_iq4_nl_ref;
}
