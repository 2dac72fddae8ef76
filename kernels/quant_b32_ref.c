/* quant_b32_ref.c - reference quantizers of Q4_1, Q5_0, Q5_1 and IQ4_NL (layouts in
 * quant_b32.h), rounding as ggml's reference quantizers do, so that a file written here holds
 * what llama-quantize writes for the same floats (without an importance matrix):
 *   Q4_1, Q5_1  d = (max - min) / 15 (31), m = min; q = (x - min) / d + 1/2, truncated;
 *   Q5_0        d = v / -16 for the v of largest magnitude; q = x / d + 16.5, truncated, <= 31;
 *   IQ4_NL      per block, the scale that best fits the codebook by weighted least squares
 *               over 15 trial scales around -v / kv[0] (ggml's quantize_iq4_nl with 7 tries);
 *               weights x^2, or with an importance matrix imatrix[i] * sqrt(sigma^2 + x^2).
 * The arithmetic is float, each operation rounded as written; d and m are stored as f16
 * (round to nearest even), the quants computed from the float d and min. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

static void put_f16(void *p, float v)
{
    uint16_t h = tlm_f32_to_f16(v);
    memcpy(p, &h, 2);
}

static void min_max(const float *x, float *lo, float *hi)
{
    *lo = FLT_MAX;
    *hi = -FLT_MAX;
    for (int j = 0; j < QK_B32; j++) {
        if (x[j] < *lo) *lo = x[j];
        if (x[j] > *hi) *hi = x[j];
    }
}

/* 4-bit parts of 32 levels into qs (element j low nibble, j + 16 high), fifth bits into qh. */
static void pack(const uint8_t *l, uint8_t *qs, uint8_t *qh)
{
    uint32_t h = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((l[j] & 15) | (l[j + 16] & 15) << 4);
        h |= (uint32_t)(l[j] >> 4 & 1) << j | (uint32_t)(l[j + 16] >> 4 & 1) << (j + 16);
    }
    if (qh) memcpy(qh, &h, 4);
}

/* Q4_1 (top 15) and Q5_1 (top 31): the block's d and min, then the levels. */
static void affine_block(const float *x, int top, uint8_t *d_m, uint8_t *l)
{
    float lo, hi;
    min_max(x, &lo, &hi);
    const float d = (hi - lo) / (float)top, id = d != 0.0f ? 1.0f / d : 0.0f;
    put_f16(d_m, d);
    put_f16(d_m + 2, lo);
    for (int j = 0; j < QK_B32; j++) {
        const int q = (int)((x[j] - lo) * id + 0.5f);
        l[j] = (uint8_t)(q < top ? q : top);
    }
}

void tlm_quantize_q4_1_ref(void *dst, const float *src, int64_t n)
{
    block_q4_1 *b = dst;
    for (int64_t k = 0; k < n / QK_B32; k++, src += QK_B32) {
        uint8_t l[QK_B32];
        affine_block(src, 15, (uint8_t *)&b[k].d, l);
        pack(l, b[k].qs, NULL);
    }
}

void tlm_quantize_q5_1_ref(void *dst, const float *src, int64_t n)
{
    block_q5_1 *b = dst;
    for (int64_t k = 0; k < n / QK_B32; k++, src += QK_B32) {
        uint8_t l[QK_B32];
        affine_block(src, 31, (uint8_t *)&b[k].d, l);
        pack(l, b[k].qs, b[k].qh);
    }
}

/* The value of largest magnitude (the first one, on ties), and that magnitude. */
static float extreme(const float *x, int n, float *amax)
{
    float a = 0.0f, v = 0.0f;
    for (int j = 0; j < n; j++)
        if (fabsf(x[j]) > a) {
            a = fabsf(x[j]);
            v = x[j];
        }
    *amax = a;
    return v;
}

void tlm_quantize_q5_0_ref(void *dst, const float *src, int64_t n)
{
    block_q5_0 *b = dst;
    for (int64_t k = 0; k < n / QK_B32; k++, src += QK_B32) {
        float amax;
        const float d = extreme(src, QK_B32, &amax) / -16.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        put_f16(&b[k].d, d);
        uint8_t l[QK_B32];
        for (int j = 0; j < QK_B32; j++) {
            const int q = (int)(src[j] * id + 16.5f);
            l[j] = (uint8_t)(q < 31 ? q : 31);
        }
        pack(l, b[k].qs, b[k].qh);
    }
}

/* Weighted sums of q x and q q with the levels for inverse scale id. */
static void fit(const float *x, const float *w, float id, uint8_t *l, float *sqx, float *sq2)
{
    float a = 0.0f, b = 0.0f;
    for (int j = 0; j < QK_B32; j++) {
        const int i = tlm_iq4_nearest(id * x[j]);
        if (l) l[j] = (uint8_t)i;
        const float q = tlm_iq4_values[i];
        a += w[j] * q * x[j];
        b += w[j] * q * q;
    }
    *sqx = a;
    *sq2 = b;
}

static void iq4_nl_block(block_iq4_nl *b, const float *x, const float *imatrix)
{
    enum { NTRY = 7 };
    float sigma2 = 0.0f, w[QK_B32];
    for (int j = 0; j < QK_B32; j++)
        sigma2 += x[j] * x[j];
    sigma2 *= 2.0f / QK_B32;
    for (int j = 0; j < QK_B32; j++)
        w[j] = imatrix ? imatrix[j] * sqrtf(sigma2 + x[j] * x[j]) : x[j] * x[j];
    float amax;
    const float vmax = extreme(x, QK_B32, &amax);
    float d = 0.0f;
    if (amax >= 1e-15f) { /* ggml's GROUP_MAX_EPS: below it the block is all zeros */
        const float kv0 = tlm_iq4_values[0];
        float sqx, sq2;
        fit(x, w, 1.0f / (-vmax / kv0), NULL, &sqx, &sq2);
        d = sqx / sq2;
        float best = d * sqx;
        for (int t = -NTRY; t <= NTRY; t++) {
            fit(x, w, ((float)t + kv0) / vmax, NULL, &sqx, &sq2);
            if (sq2 > 0 && sqx * sqx > best * sq2) {
                d = sqx / sq2;
                best = d * sqx;
            }
        }
    }
    put_f16(&b->d, d);
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    uint8_t l[QK_B32];
    for (int j = 0; j < QK_B32; j++)
        l[j] = (uint8_t)tlm_iq4_nearest(id * x[j]);
    pack(l, b->qs, NULL);
}

void tlm_quantize_iq4_nl_ref(void *dst, const float *src, int64_t n, const float *imatrix)
{
    block_iq4_nl *b = dst;
    for (int64_t k = 0; k < n / QK_B32; k++)
        iq4_nl_block(&b[k], src + k * QK_B32, imatrix ? imatrix + k * QK_B32 : NULL);
}
