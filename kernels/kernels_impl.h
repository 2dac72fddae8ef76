/* kernels_impl.h - the individual kernels behind the table, for the table fillers and tests.
 *
 * Names are tlm_<op>_<isa>. The _avx2 and _avx512 functions may only be called when
 * tlm_cpu_has() reports their instruction set (see tlm_kernels_add_avx2/_avx512). */
#ifndef TLM_KERNELS_IMPL_H
#define TLM_KERNELS_IMPL_H

#include "kernels.h"

/* ---- scalar references ---------------------------------------------------------------- */

tlm_matmul_kernel tlm_matmul_f32_ref;
tlm_matmul_kernel tlm_matmul_f16_ref;
tlm_matmul_kernel tlm_matmul_bf16_ref;

void tlm_to_f32_f32_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_f16_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_bf16_ref(float *out, const void *src, int64_t n);

/* Quantized weights (kernels/dequant_ref.c, kernels/qmatmul_ref.c): the activations are
 * quantized per block inside the call; qmatmul_ref.c states the numbers exactly. */
tlm_matmul_kernel tlm_matmul_q8_0_ref;
tlm_matmul_kernel tlm_matmul_q4_0_ref;
tlm_matmul_kernel tlm_matmul_q4_K_ref;
tlm_matmul_kernel tlm_matmul_q5_K_ref;
tlm_matmul_kernel tlm_matmul_q6_K_ref;

void tlm_to_f32_q8_0_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q4_0_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q4_K_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q5_K_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q6_K_ref(float *out, const void *src, int64_t n);

/* Q4_1, Q5_0, Q5_1, IQ4_NL (kernels/qmatmul_b32_ref.c states the numbers; dequant_b32_ref.c) */
tlm_matmul_kernel tlm_matmul_q4_1_ref, tlm_matmul_q5_0_ref, tlm_matmul_q5_1_ref,
    tlm_matmul_iq4_nl_ref;
void tlm_to_f32_q4_1_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q5_0_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q5_1_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_iq4_nl_ref(float *out, const void *src, int64_t n);

void tlm_store_kv_f32_ref(void *dst, const float *src, int64_t n);
void tlm_store_kv_f16_ref(void *dst, const float *src, int64_t n);
void tlm_store_kv_q8_0_ref(void *dst, const float *src, int64_t n);

float tlm_dot_f32_ref(const float *a, const float *b, int64_t n);
void tlm_axpy_f32_ref(float *y, float a, const float *x, int64_t n);

void tlm_attn_head_f32_ref(float *out, const float *q, const void *k, const void *v,
                           int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                           float *scores);
void tlm_attn_head_f16_ref(float *out, const float *q, const void *k, const void *v,
                           int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                           float *scores);
void tlm_attn_head_q8_0_ref(float *out, const float *q, const void *k, const void *v,
                            int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                            float *scores);

void tlm_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps);
void tlm_layernorm_ref(float *out, const float *x, const float *w, const float *b, int64_t n,
                       float eps);

void tlm_silu_mul_ref(float *gate, const float *up, int64_t n);
void tlm_gelu_tanh_mul_ref(float *gate, const float *up, int64_t n);
void tlm_gelu_tanh_ref(float *x, int64_t n);

void tlm_rope_ref(float *x, int32_t n_heads, int32_t head_dim, int32_t rope_dim, const float *cos,
                  const float *sin, bool neox);

/* ---- the vector kernels every SIMD level has (one *_body.h each, compiled per ISA) ----- */

typedef void tlm_to_f32_kernel(float *out, const void *src, int64_t n);
typedef void tlm_store_kv_kernel(void *dst, const float *src, int64_t n);
typedef void tlm_attn_head_kernel(float *out, const float *q, const void *k, const void *v,
                                  int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                                  float *scores);
typedef void tlm_attn_rows_kernel(float *const *out, const float *const *q, int32_t nq,
                                  const int32_t *lo, const int32_t *hi, const void *k,
                                  const void *v, int64_t kv_stride, int32_t head_dim, float scale,
                                  float *scratch);

/* Declares, for one ISA suffix: the float matmuls (rows and 4-row groups), F16/BF16 and the
 * quantized types' to_f32, the KV stores, dot/axpy, attention (one query and blocks of
 * queries, by cache type), the norms and the activations. */
#define TLM_DECLARE_VECTOR_KERNELS(isa)                                                            \
    tlm_matmul_kernel tlm_matmul_f32_##isa, tlm_matmul_f16_##isa, tlm_matmul_bf16_##isa,           \
        tlm_matmul_il_f16_##isa, tlm_matmul_il_bf16_##isa;                                         \
    tlm_to_f32_kernel tlm_to_f32_f16_##isa, tlm_to_f32_bf16_##isa, tlm_to_f32_q8_0_##isa,          \
        tlm_to_f32_q4_0_##isa, tlm_to_f32_q4_K_##isa, tlm_to_f32_q5_K_##isa,                       \
        tlm_to_f32_q6_K_##isa;                                                                     \
    tlm_store_kv_kernel tlm_store_kv_f16_##isa, tlm_store_kv_q8_0_##isa;                           \
    float tlm_dot_f32_##isa(const float *a, const float *b, int64_t n);                            \
    void tlm_axpy_f32_##isa(float *y, float a, const float *x, int64_t n);                         \
    tlm_attn_head_kernel tlm_attn_head_f32_##isa, tlm_attn_head_f16_##isa,                         \
        tlm_attn_head_q8_0_##isa;                                                                  \
    tlm_attn_rows_kernel tlm_attn_rows_f32_##isa, tlm_attn_rows_f16_##isa,                         \
        tlm_attn_rows_q8_0_##isa;                                                                  \
    void tlm_rmsnorm_##isa(float *out, const float *x, const float *w, int64_t n, float eps);      \
    void tlm_layernorm_##isa(float *out, const float *x, const float *w, const float *b,           \
                             int64_t n, float eps);                                                \
    void tlm_silu_mul_##isa(float *gate, const float *up, int64_t n);                              \
    void tlm_gelu_tanh_mul_##isa(float *gate, const float *up, int64_t n);                         \
    void tlm_gelu_tanh_##isa(float *x, int64_t n)

/* ---- AVX2 + FMA + F16C ---------------------------------------------------------------- */

TLM_DECLARE_VECTOR_KERNELS(avx2);

/* quantized weights: matmul by vpmaddubsw (kernels/qmatmul_avx2.c) */
tlm_matmul_kernel tlm_matmul_q8_0_avx2, tlm_matmul_q4_0_avx2, tlm_matmul_q4_K_avx2,
    tlm_matmul_q5_K_avx2, tlm_matmul_q6_K_avx2;
tlm_matmul_kernel tlm_matmul_il_q8_0_avx2, tlm_matmul_il_q4_0_avx2, tlm_matmul_il_q4_K_avx2,
    tlm_matmul_il_q5_K_avx2, tlm_matmul_il_q6_K_avx2;
/* Q4_1, Q5_0, Q5_1, IQ4_NL: kernels/qmatmul_b32_body.h, on rows and on groups of 16 */
tlm_matmul_kernel tlm_matmul_q4_1_avx2, tlm_matmul_q5_0_avx2, tlm_matmul_q5_1_avx2,
    tlm_matmul_iq4_nl_avx2;
tlm_matmul_kernel tlm_matmul_il_q4_1_avx2, tlm_matmul_il_q5_0_avx2, tlm_matmul_il_q5_1_avx2,
    tlm_matmul_il_iq4_nl_avx2;

/* ---- AVX-512 (F, BW, VL, DQ) plus the AVX2 set ---------------------------------------- */

TLM_DECLARE_VECTOR_KERNELS(avx512);
/* F16, BF16 on 16-row groups by element (kernels.h, TLM_IL_LANES; matmul_lanes_<isa>.c) */
tlm_matmul_kernel tlm_matmul_lanes_f16_avx512, tlm_matmul_lanes_bf16_avx512;
tlm_matmul_kernel tlm_matmul_lanes_f16_avx2, tlm_matmul_lanes_bf16_avx2;
/* BF16 on the same groups by vdpbf16ps (matmul_lanes_avx512bf16.c, AVX512_BF16) */
tlm_matmul_kernel tlm_matmul_lanes_bf16_avx512bf16;

/* ---- AVX-512 VNNI (kernels/qmatmul_avx512vnni.c) on top of the AVX-512 set -------------- */

tlm_matmul_kernel tlm_matmul_q8_0_avx512vnni;
tlm_matmul_kernel tlm_matmul_q4_0_avx512vnni;
tlm_matmul_kernel tlm_matmul_q4_K_avx512vnni;
tlm_matmul_kernel tlm_matmul_q5_K_avx512vnni;
tlm_matmul_kernel tlm_matmul_q6_K_avx512vnni;
tlm_matmul_kernel tlm_matmul_il_q8_0_avx512vnni;
tlm_matmul_kernel tlm_matmul_il_q4_0_avx512vnni;
tlm_matmul_kernel tlm_matmul_il_q4_K_avx512vnni;
tlm_matmul_kernel tlm_matmul_il_q5_K_avx512vnni;
tlm_matmul_kernel tlm_matmul_il_q6_K_avx512vnni;
tlm_matmul_kernel tlm_matmul_q4_1_avx512vnni, tlm_matmul_q5_0_avx512vnni,
    tlm_matmul_q5_1_avx512vnni, tlm_matmul_iq4_nl_avx512vnni;
tlm_matmul_kernel tlm_matmul_il_q4_1_avx512vnni, tlm_matmul_il_q5_0_avx512vnni,
    tlm_matmul_il_q5_1_avx512vnni, tlm_matmul_il_iq4_nl_avx512vnni;

/* ---- Q2_K, Q3_K, IQ4_XS: references (dequant_lowk_ref.c, qmatmul_lowk_ref.c) and the one
 * body qmatmul_lowk_body.h built for AVX2 and for AVX-512 VNNI (qmatmul_lowk_<isa>.c) ----- */

tlm_matmul_kernel tlm_matmul_q2_K_ref, tlm_matmul_q3_K_ref, tlm_matmul_iq4_xs_ref;
tlm_matmul_kernel tlm_matmul_q2_K_avx2, tlm_matmul_q3_K_avx2, tlm_matmul_iq4_xs_avx2;
tlm_matmul_kernel tlm_matmul_q2_K_avx512vnni, tlm_matmul_q3_K_avx512vnni,
    tlm_matmul_iq4_xs_avx512vnni;
/* the same on groups interleaved by 16 rows (kernels.h, il) */
tlm_matmul_kernel tlm_matmul_il_q2_K_avx2, tlm_matmul_il_q3_K_avx2, tlm_matmul_il_iq4_xs_avx2;
tlm_matmul_kernel tlm_matmul_il_q2_K_avx512vnni, tlm_matmul_il_q3_K_avx512vnni,
    tlm_matmul_il_iq4_xs_avx512vnni;
void tlm_to_f32_q2_K_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_q3_K_ref(float *out, const void *src, int64_t n);
void tlm_to_f32_iq4_xs_ref(float *out, const void *src, int64_t n);

/* ---- AArch64: NEON (<op>_neon.c), then dot product (<op>_dotprod.c), then i8mm ---------- */

TLM_DECLARE_VECTOR_KERNELS(neon);
void tlm_rope_neon(float *x, int32_t n_heads, int32_t head_dim, int32_t rope_dim, const float *cos,
                   const float *sin, bool neox);

/* quantized weights: qmatmul_neon_body.h at each level (bit for bit the reference) */
tlm_matmul_kernel tlm_matmul_q8_0_neon, tlm_matmul_q8_0_dotprod, tlm_matmul_q8_0_i8mm;
tlm_matmul_kernel tlm_matmul_q4_0_neon, tlm_matmul_q4_0_dotprod, tlm_matmul_q4_0_i8mm;
tlm_matmul_kernel tlm_matmul_q4_K_neon, tlm_matmul_q4_K_dotprod, tlm_matmul_q4_K_i8mm;
tlm_matmul_kernel tlm_matmul_q5_K_neon, tlm_matmul_q5_K_dotprod, tlm_matmul_q5_K_i8mm;
tlm_matmul_kernel tlm_matmul_q6_K_neon, tlm_matmul_q6_K_dotprod, tlm_matmul_q6_K_i8mm;
/* on 4-row groups (kernels.h, TLM_IL_SDOT4), by SDOT at both levels */
tlm_matmul_kernel tlm_matmul_il_q8_0_dotprod, tlm_matmul_il_q8_0_i8mm;
tlm_matmul_kernel tlm_matmul_il_q4_0_dotprod, tlm_matmul_il_q4_0_i8mm;
/* Q4_1, Q5_0, Q5_1, IQ4_NL and Q2_K, Q3_K, IQ4_XS: qmatmul_b32_body.h and qmatmul_lowk_body.h
 * on NEON and SDOT (qbody_neon.h), on rows and on groups of 16 (TLM_IL_STD) */
tlm_matmul_kernel tlm_matmul_q4_1_neon, tlm_matmul_q5_0_neon, tlm_matmul_q5_1_neon,
    tlm_matmul_iq4_nl_neon, tlm_matmul_q2_K_neon, tlm_matmul_q3_K_neon, tlm_matmul_iq4_xs_neon;
tlm_matmul_kernel tlm_matmul_il_q4_1_neon, tlm_matmul_il_q5_0_neon, tlm_matmul_il_q5_1_neon,
    tlm_matmul_il_iq4_nl_neon, tlm_matmul_il_q2_K_neon, tlm_matmul_il_q3_K_neon,
    tlm_matmul_il_iq4_xs_neon;
tlm_matmul_kernel tlm_matmul_q4_1_dotprod, tlm_matmul_q5_0_dotprod, tlm_matmul_q5_1_dotprod,
    tlm_matmul_iq4_nl_dotprod, tlm_matmul_q2_K_dotprod, tlm_matmul_q3_K_dotprod,
    tlm_matmul_iq4_xs_dotprod;
tlm_matmul_kernel tlm_matmul_il_q4_1_dotprod, tlm_matmul_il_q5_0_dotprod,
    tlm_matmul_il_q5_1_dotprod, tlm_matmul_il_iq4_nl_dotprod, tlm_matmul_il_q2_K_dotprod,
    tlm_matmul_il_q3_K_dotprod, tlm_matmul_il_iq4_xs_dotprod;

/* ---- table selection (kernels/dispatch.c) --------------------------------------------- */

/* Fills k for this CPU: references, then every ISA level the CPU has, up to `force` when it
 * names one ("ref", "avx2", "avx512"; on AArch64 "ref", "neon", "dotprod", "i8mm"; NULL or
 * any other string: no limit). The avx512 level
 * includes the VNNI kernels when the CPU has VNNI. tlm_kernels_get()
 * is this with getenv("TLM_ISA"), done once. */
void tlm_kernels_fill(tlm_kernels *k, const char *force);

#endif
