/* table_avx512.c - the slots AVX-512 runs faster, over the AVX2 table (to_f32 for F32 stays
 * memcpy, rope stays scalar; quantized matmuls stay AVX2 unless the CPU has VNNI, see
 * table_avx512vnni.c). Built with the AVX-512 flags; only called when the CPU has them. */
#include "kernels_impl.h"

void tlm_kernels_add_avx512(tlm_kernels *k)
{
    k->isa = "avx512";
    k->matmul[TLM_DT_F32] = tlm_matmul_f32_avx512;
    k->matmul[TLM_DT_F16] = tlm_matmul_f16_avx512;
    k->matmul[TLM_DT_BF16] = tlm_matmul_bf16_avx512;
    /* 16 rows in the lanes (kernels.h, TLM_IL_LANES) */
    k->matmul_il[TLM_DT_F16] = tlm_matmul_lanes_f16_avx512;
    k->matmul_il[TLM_DT_BF16] = tlm_matmul_lanes_bf16_avx512;
    k->il_layout[TLM_DT_F16] = TLM_IL_LANES;
    k->il_layout[TLM_DT_BF16] = TLM_IL_LANES;
    k->to_f32[TLM_DT_F16] = tlm_to_f32_f16_avx512;
    k->to_f32[TLM_DT_BF16] = tlm_to_f32_bf16_avx512;
    k->to_f32[TLM_DT_Q8_0] = tlm_to_f32_q8_0_avx512;
    k->to_f32[TLM_DT_Q4_0] = tlm_to_f32_q4_0_avx512;
    k->to_f32[TLM_DT_Q4_K] = tlm_to_f32_q4_K_avx512;
    k->to_f32[TLM_DT_Q5_K] = tlm_to_f32_q5_K_avx512;
    k->to_f32[TLM_DT_Q6_K] = tlm_to_f32_q6_K_avx512;
    k->store_kv[TLM_DT_F16] = tlm_store_kv_f16_avx512;
    k->store_kv[TLM_DT_Q8_0] = tlm_store_kv_q8_0_avx512;
    k->dot_f32 = tlm_dot_f32_avx512;
    k->axpy_f32 = tlm_axpy_f32_avx512;
    k->attn_head[TLM_DT_F32] = tlm_attn_head_f32_avx512;
    k->attn_head[TLM_DT_F16] = tlm_attn_head_f16_avx512;
    k->attn_head[TLM_DT_Q8_0] = tlm_attn_head_q8_0_avx512;
    k->attn_rows[TLM_DT_F32] = tlm_attn_rows_f32_avx512;
    k->attn_rows[TLM_DT_F16] = tlm_attn_rows_f16_avx512;
    k->attn_rows[TLM_DT_Q8_0] = tlm_attn_rows_q8_0_avx512;
    k->rmsnorm = tlm_rmsnorm_avx512;
    k->layernorm = tlm_layernorm_avx512;
    k->silu_mul = tlm_silu_mul_avx512;
    k->gelu_tanh_mul = tlm_gelu_tanh_mul_avx512;
    k->gelu_tanh = tlm_gelu_tanh_avx512;
}
