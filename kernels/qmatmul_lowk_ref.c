/* qmatmul_lowk_ref.c - reference matmul of Q2_K, Q3_K and IQ4_XS weights. These functions
 * define the numbers; the SIMD kernels (qmatmul_lowk_body.h) give the same bits.
 *
 * The activations are quantized as for the other K-quants (qmatmul_ref.c, "Q8_K"): blocks of
 * 256, d = amax / 127 (float), q_i = x_i * (127 / amax) rounded to nearest even (lrintf), so
 * |q_i| <= 127; a block with amax below 2^-96 gets q = 0. With each weight block in the common
 * form of quant_lowk.h (levels w_i, 16 sub-block scales sc_s and mins m_s of 16 elements):
 *   isum = sum_s sc_s * sum_{i in s} w_i q_i         acc = acc + (float)isum * (d * dx)
 *   msum = sum_s m_s * sum_{i in s} q_i  (Q2_K)      acc = acc - (float)msum * (dmin * dx)
 * Both integer sums are exact in int32 (|isum| <= 256 * 32 * 127 * 127 < 2^27). acc starts at
 * 0 and takes the blocks in order of k; every float operation is rounded as written (no
 * fused multiply-add), which is what lets the SIMD kernels match bit for bit. The
 * activations are quantized a chunk of k at a time; y holds the running sums between chunks. */
#include <math.h>

#include "kernels_impl.h"
#include "quant.h"

enum { CHUNK = 4096 }; /* activation elements quantized at a time: a multiple of 256 */

/* One block of 256: q, and the scale d as returned. */
static float quantize_act(const float *x, int8_t *q)
{
    float amax = 0.0f;
    for (int i = 0; i < QK_K; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
    float id = amax >= 0x1p-96f ? 127.0f / amax : 0.0f; /* 127 / amax could overflow below */
    for (int i = 0; i < QK_K; i++)
        q[i] = (int8_t)lrintf(x[i] * id);
    return amax / 127.0f;
}

static float block_dot(int type, float acc, const void *blk, const int8_t *q, float dx)
{
    tlm_lowk_unit u;
    tlm_lowk_unpack(type, &u, blk);
    int32_t isum = 0, msum = 0;
    for (int s = 0; s < 16; s++) {
        int32_t dot = 0, qsum = 0;
        for (int i = 16 * s; i < 16 * s + 16; i++) {
            dot += u.w[i] * q[i];
            qsum += q[i];
        }
        isum += u.sc[s] * dot;
        msum += u.m[s] * qsum;
    }
    acc = acc + (float)isum * (tlm_f16_to_f32(u.d) * dx);
    if (u.has_min) acc = acc - (float)msum * (tlm_f16_to_f32(u.dmin) * dx);
    return acc;
}

static void matmul(int type, int64_t block_bytes, float *y, int64_t ldy, const void *w,
                   uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                   int64_t r0, int64_t r1)
{
    int8_t q[CHUNK];
    float d[CHUNK / QK_K];
    for (int64_t t = 0; t < n_tok; t++) {
        if (n_in == 0) /* an empty sum */
            for (int64_t r = r0; r < r1; r++)
                y[t * ldy + r] = 0.0f;
        for (int64_t k0 = 0; k0 < n_in; k0 += CHUNK) {
            const int64_t n_blk = (n_in - k0 < CHUNK ? n_in - k0 : CHUNK) / QK_K;
            for (int64_t b = 0; b < n_blk; b++)
                d[b] = quantize_act(x + t * ldx + k0 + b * QK_K, q + b * QK_K);
            for (int64_t r = r0; r < r1; r++) {
                const char *row = (const char *)w + (uint64_t)r * w_row_bytes;
                float acc = k0 == 0 ? 0.0f : y[t * ldy + r];
                for (int64_t b = 0; b < n_blk; b++)
                    acc = block_dot(type, acc, row + (k0 / QK_K + b) * block_bytes, q + b * QK_K,
                                    d[b]);
                y[t * ldy + r] = acc;
            }
        }
    }
}

#define LOWK_REF(name, type, block)                                                                \
    void name(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,          \
              int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)                    \
    {                                                                                              \
        matmul(type, sizeof(block), y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);          \
    }

LOWK_REF(tlm_matmul_q2_K_ref, TLM_DT_Q2_K, block_q2_K)
LOWK_REF(tlm_matmul_q3_K_ref, TLM_DT_Q3_K, block_q3_K)
LOWK_REF(tlm_matmul_iq4_xs_ref, TLM_DT_IQ4_XS, block_iq4_xs)
