/* quant.h - block layouts of the quantized weight types, exactly as GGUF stores them, and the
 * reference (scalar) quantize / dequantize routines for each.
 *
 * A row of n elements is n / QK blocks laid end to end. Values are reconstructed as:
 *   Q8_0  x = d * q                      q int8,  32 per block
 *   Q4_0  x = d * (q - 8)                q 4-bit, 32 per block: byte j holds element j in its
 *                                        low nibble and element j + 16 in its high nibble
 *   Q4_K  super-block of 256 = 8 sub-blocks of 32; x = d * sc[s] * q - dmin * m[s], q 4-bit,
 *         sc and m 6-bit, packed in scales[12] (see get_scale_min_k4 in quant_ref.c)
 *   Q5_K  as Q4_K with a fifth bit per element in qh
 *   Q6_K  super-block of 256 = 16 sub-blocks of 16; x = d * scales[s] * (q - 32), q 6-bit
 *         (low 4 bits in ql, high 2 bits in qh)
 * d and dmin are IEEE half floats. */
#ifndef TLM_QUANT_H
#define TLM_QUANT_H

#include <stdint.h>

#define QK8_0 32
#define QK4_0 32
#define QK_K 256
#define K_SCALE_SIZE 12

typedef struct {
    uint16_t d; /* f16 scale */
    int8_t qs[QK8_0];
} block_q8_0;

typedef struct {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;

typedef struct {
    uint16_t d;    /* super-block scale for the sub-block scales */
    uint16_t dmin; /* super-block scale for the sub-block mins */
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;

typedef struct {
    uint16_t d, dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;

typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;

_Static_assert(sizeof(block_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(block_q4_0) == 18, "Q4_0 block");
_Static_assert(sizeof(block_q4_K) == 144, "Q4_K block");
_Static_assert(sizeof(block_q5_K) == 176, "Q5_K block");
_Static_assert(sizeof(block_q6_K) == 210, "Q6_K block");

/* Q4_1, Q5_0, Q5_1 and IQ4_NL: blocks of 32 (layouts in quant_b32.h), quantized as ggml's
 * reference quantizers round (kernels/quant_b32_ref.c). imatrix: an importance weight per
 * element of the row (n floats), or NULL; only IQ4_NL uses it. */
#include "quant_b32.h"
void tlm_quantize_q4_1_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_q5_0_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_q5_1_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_iq4_nl_ref(void *dst, const float *src, int64_t n, const float *imatrix);

/* Reference quantizers: n floats (a multiple of the block size) into blocks at dst.
 * Round-to-nearest; the K-quants choose per-sub-block scales that minimise squared error. */
void tlm_quantize_q8_0_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_q4_0_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_q4_K_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_q5_K_ref(void *dst, const float *src, int64_t n);
void tlm_quantize_q6_K_ref(void *dst, const float *src, int64_t n);
/* The K-quants with an importance matrix: imatrix holds a weight per column of the row (n
 * floats, llama.cpp's imatrix values divided by their call count) or is NULL (then the same
 * bits as the _ref functions). Elements are weighed as ggml weighs them (Q4_K, Q5_K: imatrix_i *
 * sqrt(sigma^2 + x_i^2), and the sub-block scales and mins by each sub-block's total weight;
 * Q6_K: imatrix_i alone). */
void tlm_quantize_q4_K_imatrix(void *dst, const float *src, int64_t n, const float *imatrix);
void tlm_quantize_q5_K_imatrix(void *dst, const float *src, int64_t n, const float *imatrix);
void tlm_quantize_q6_K_imatrix(void *dst, const float *src, int64_t n, const float *imatrix);

/* Q2_K, Q3_K, IQ4_XS (layouts in quant_lowk.h; kernels/quant_lowk.c): rounding as GGUF's
 * reference quantizers do. imatrix: an importance weight per column of the row (n floats,
 * repeated for every row), or NULL for none (then GGUF's unweighted reference rounding). */
#include "quant_lowk.h"
void tlm_quantize_q2_K_ref(void *dst, const float *src, int64_t n, const float *imatrix);
void tlm_quantize_q3_K_ref(void *dst, const float *src, int64_t n, const float *imatrix);
void tlm_quantize_iq4_xs_ref(void *dst, const float *src, int64_t n, const float *imatrix);

#endif
