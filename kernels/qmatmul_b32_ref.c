/* qmatmul_b32_ref.c - reference matmul of Q4_1, Q5_0, Q5_1 and IQ4_NL weights (quant_b32.h).
 * These functions define the numbers; the SIMD kernels (qmatmul_b32_body.h) agree with them
 * within float summation error, as for the other quantized types (qmatmul_ref.c): the same
 * integer sums per block, but multiply-adds fused and the min term taken as m * (qsum * dx).
 *
 * The activations are quantized per block of 32, as ggml pairs these types: Q8_0-style for
 * Q5_0 and IQ4_NL, Q8_1-style (the block's sum of q kept too) for Q4_1 and Q5_1, whose min m
 * meets that sum. Per block: amax = max |x_i|, dx = amax / 127 (kept as float, not f16), and
 * q_i = x_i * (127 / amax) rounded to nearest, ties to even (lrintf), so |q_i| <= 127; a block
 * with amax below 2^-96 gets q = 0. Then, for weight row r and block b, with the weight
 * block's levels l_i (quant_b32.h: Q4_1 0..15, Q5_0 -16..15, Q5_1 0..31, IQ4_NL the codebook
 * value), d and m widened from f16:
 *   isum = sum l_i q_i                 acc = acc + (float)isum * (d * dx)
 *   qsum = sum q_i   (Q4_1, Q5_1)      acc = acc + (float)qsum * (m * dx)
 * Both sums are exact in int32 (|isum| <= 32 * 127 * 127). acc starts at 0 and takes the
 * blocks in order of k; each float operation here is rounded as written (no fused
 * multiply-add: the library is built with -std=c11, so the compiler does not contract them). */
#include <math.h>

#include "kernels_impl.h"
#include "quant_b32.h"

enum { CHUNK = 4096 }; /* activation elements quantized at a time */

/* One activation block: q, the sum of q, and dx as returned. */
static float quantize_act(const float *x, int8_t *q, int32_t *qsum)
{
    float amax = 0.0f;
    for (int i = 0; i < QK_B32; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
    float id = amax >= 0x1p-96f ? 127.0f / amax : 0.0f; /* 127 / amax could overflow below */
    int32_t s = 0;
    for (int i = 0; i < QK_B32; i++) {
        q[i] = (int8_t)lrintf(x[i] * id);
        s += q[i];
    }
    *qsum = s;
    return amax / 127.0f;
}

static float block_dot(int type, float acc, const char *blk, const int8_t *q, int32_t qsum,
                       float dx)
{
    int32_t isum = 0;
    for (int i = 0; i < QK_B32; i++)
        isum += b32_level(type, blk, i) * q[i];
    uint16_t dh, mh;
    __builtin_memcpy(&dh, blk, 2);
    acc = acc + (float)isum * (tlm_f16_to_f32(dh) * dx);
    if (type == TLM_DT_Q4_1 || type == TLM_DT_Q5_1) {
        __builtin_memcpy(&mh, blk + 2, 2);
        acc = acc + (float)qsum * (tlm_f16_to_f32(mh) * dx);
    }
    return acc;
}

static void matmul(int type, int64_t block_bytes, float *y, int64_t ldy, const void *w,
                   uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                   int64_t r0, int64_t r1)
{
    int8_t q[CHUNK];
    float dx[CHUNK / QK_B32];
    int32_t qsum[CHUNK / QK_B32];
    for (int64_t t = 0; t < n_tok; t++) {
        if (n_in == 0) /* an empty sum */
            for (int64_t r = r0; r < r1; r++)
                y[t * ldy + r] = 0.0f;
        for (int64_t k0 = 0; k0 < n_in; k0 += CHUNK) {
            const int64_t n_blk = (n_in - k0 < CHUNK ? n_in - k0 : CHUNK) / QK_B32;
            for (int64_t b = 0; b < n_blk; b++)
                dx[b] = quantize_act(x + t * ldx + k0 + b * QK_B32, q + b * QK_B32, &qsum[b]);
            for (int64_t r = r0; r < r1; r++) {
                const char *row = (const char *)w + (uint64_t)r * w_row_bytes +
                                  (uint64_t)(k0 / QK_B32 * block_bytes);
                float acc = k0 == 0 ? 0.0f : y[t * ldy + r];
                for (int64_t b = 0; b < n_blk; b++)
                    acc =
                        block_dot(type, acc, row + b * block_bytes, q + b * QK_B32, qsum[b], dx[b]);
                y[t * ldy + r] = acc;
            }
        }
    }
}

#define B32_REF(suffix, type)                                                                      \
    void tlm_matmul_##suffix##_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,     \
                                   const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,       \
                                   int64_t r0, int64_t r1)                                         \
    {                                                                                              \
        matmul(type, sizeof(block_##suffix), y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1); \
    }

B32_REF(q4_1, TLM_DT_Q4_1)
B32_REF(q5_0, TLM_DT_Q5_0)
B32_REF(q5_1, TLM_DT_Q5_1)
B32_REF(iq4_nl, TLM_DT_IQ4_NL)
