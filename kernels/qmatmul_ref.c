/* qmatmul_ref.c - reference matmul for the quantized weight types (Q8_0, Q4_0, Q4_K, Q5_K,
 * Q6_K). These functions define the numbers; the SIMD kernels must agree with them within
 * float summation error.
 *
 * The activations are quantized too, per block, so that each weight block meets integers:
 *   - for Q8_0 and Q4_0 weights, x is cut into blocks of 32; for the K-quants, into blocks of
 *     256 (one per weight super-block; the "Q8_K" form);
 *   - per block: amax = max |x_i|, d = amax / 127 (kept as float), and
 *     q_i = x_i * (127 / amax) rounded to nearest, ties to even, so |q_i| <= 127; a block with
 *     amax below 2^-96 (or zero) gets q = 0.
 * Then, for weight row r and activation block b (dw, dmin, sc, m, levels as quant_unpack.h):
 *   Q8_0  isum = sum w_i q_i                        acc += isum * (dw * d)
 *   Q4_0  isum = sum (level_i - 8) q_i              acc += isum * (dw * d)
 *   Q4_K  isum = sum_s sc_s sum_{i in s} level_i q_i,  msum = sum_s m_s sum_{i in s} q_i
 *         (s: 8 sub-blocks of 32)                   acc += isum * (dw * d); acc -= msum * (dmin *
 * d) Q5_K  as Q4_K with the 5-bit levels Q6_K  isum = sum_s sc_s sum_{i in s} (level_i - 32) q_i
 * (s: 16 sub-blocks of 16) acc += isum * (dw * d) Every integer sum is exact in int32 (at most 2^28
 * in magnitude), converted to float once per block; acc starts at 0 and takes the blocks in order
 * of k. The float products are rounded as written here; SIMD kernels fuse the multiply-add, which
 * is why they agree within rounding rather than bit for bit.
 *
 * The activations are quantized inside the call, a chunk of k at a time; y holds the running
 * sums between chunks. */
#include <math.h>

#include "kernels_impl.h"
#include "quant_unpack.h"

enum { CHUNK = 4096 }; /* activation elements quantized at a time: a multiple of 256 */

/* One activation block of n values: q into `q`, returns the scale d (see the top comment). */
static float quantize_act(const float *x, int n, int8_t *q)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) amax = fabsf(x[i]);
    /* below 2^-96, 127 / amax could overflow; such a block is zero for every purpose */
    float id = amax >= 0x1p-96f ? 127.0f / amax : 0.0f;
    for (int i = 0; i < n; i++)
        q[i] = (int8_t)lrintf(x[i] * id);
    return amax / 127.0f;
}

/* acc plus block `blk` of a weight row dotted with one activation block (q, d). */
typedef float (*block_dot_fn)(float acc, const void *row, int64_t blk, const int8_t *q, float d);

static float dot_q8_0(float acc, const void *row, int64_t blk, const int8_t *q, float d)
{
    const block_q8_0 *b = (const block_q8_0 *)row + blk;
    int32_t isum = 0;
    for (int i = 0; i < QK8_0; i++)
        isum += b->qs[i] * q[i];
    return acc + (float)isum * (tlm_f16_to_f32(b->d) * d);
}

static float dot_q4_0(float acc, const void *row, int64_t blk, const int8_t *q, float d)
{
    const block_q4_0 *b = (const block_q4_0 *)row + blk;
    int32_t isum = 0;
    for (int i = 0; i < QK4_0; i++)
        isum += (q4_0_level(b, i) - 8) * q[i];
    return acc + (float)isum * (tlm_f16_to_f32(b->d) * d);
}

/* Q4_K and Q5_K differ only in their levels. */
static float dot_k_affine(float acc, const uint16_t *dw, const uint16_t *dmin,
                          const uint8_t *scales, const int *level, const int8_t *q, float d)
{
    int32_t isum = 0, msum = 0;
    for (int s = 0; s < 8; s++) {
        int sc, m;
        k4_scale_min(scales, s, &sc, &m);
        int32_t dot = 0, qsum = 0;
        for (int i = 32 * s; i < 32 * s + 32; i++) {
            dot += level[i] * q[i];
            qsum += q[i];
        }
        isum += sc * dot;
        msum += m * qsum;
    }
    acc += (float)isum * (tlm_f16_to_f32(*dw) * d);
    return acc - (float)msum * (tlm_f16_to_f32(*dmin) * d);
}

static float dot_q4_K(float acc, const void *row, int64_t blk, const int8_t *q, float d)
{
    const block_q4_K *b = (const block_q4_K *)row + blk;
    int level[QK_K];
    for (int i = 0; i < QK_K; i++)
        level[i] = q4_K_level(b, i);
    return dot_k_affine(acc, &b->d, &b->dmin, b->scales, level, q, d);
}

static float dot_q5_K(float acc, const void *row, int64_t blk, const int8_t *q, float d)
{
    const block_q5_K *b = (const block_q5_K *)row + blk;
    int level[QK_K];
    for (int i = 0; i < QK_K; i++)
        level[i] = q5_K_level(b, i);
    return dot_k_affine(acc, &b->d, &b->dmin, b->scales, level, q, d);
}

static float dot_q6_K(float acc, const void *row, int64_t blk, const int8_t *q, float d)
{
    const block_q6_K *b = (const block_q6_K *)row + blk;
    int32_t isum = 0;
    for (int s = 0; s < 16; s++) {
        int32_t dot = 0;
        for (int i = 16 * s; i < 16 * s + 16; i++)
            dot += (q6_K_level(b, i) - 32) * q[i];
        isum += b->scales[s] * dot;
    }
    return acc + (float)isum * (tlm_f16_to_f32(b->d) * d);
}

static void matmul(block_dot_fn dot, int block, float *y, int64_t ldy, const void *w,
                   uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                   int64_t r0, int64_t r1)
{
    int8_t q[CHUNK];
    float d[CHUNK / QK8_0];
    for (int64_t t = 0; t < n_tok; t++) {
        if (n_in == 0) /* an empty sum */
            for (int64_t r = r0; r < r1; r++)
                y[t * ldy + r] = 0.0f;
        for (int64_t k0 = 0; k0 < n_in; k0 += CHUNK) {
            int64_t n_blk = (n_in - k0 < CHUNK ? n_in - k0 : CHUNK) / block;
            for (int64_t b = 0; b < n_blk; b++)
                d[b] = quantize_act(x + t * ldx + k0 + b * block, block, q + b * block);
            for (int64_t r = r0; r < r1; r++) {
                const void *row = (const char *)w + (uint64_t)r * w_row_bytes;
                float acc = k0 == 0 ? 0.0f : y[t * ldy + r];
                for (int64_t b = 0; b < n_blk; b++)
                    acc = dot(acc, row, k0 / block + b, q + b * block, d[b]);
                y[t * ldy + r] = acc;
            }
        }
    }
}

void tlm_matmul_q8_0_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                         int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(dot_q8_0, QK8_0, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_q4_0_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                         int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(dot_q4_0, QK4_0, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_q4_K_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                         int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(dot_q4_K, QK_K, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_q5_K_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                         int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(dot_q5_K, QK_K, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_q6_K_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                         int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(dot_q6_K, QK_K, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}
