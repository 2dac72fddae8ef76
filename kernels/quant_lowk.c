/* quant_lowk.c - reference quantizers of Q2_K, Q3_K and IQ4_XS (layouts in quant_lowk.h),
 * rounding as GGUF's reference quantizers do, so that their files and these agree:
 *   Q2_K    per 16 elements an affine fit (scale, min >= 0) found by a search of 16 candidate
 *           scales with weighted least squares, weights |x|, error measured as weighted
 *           absolute difference; scales and mins then quantized to 4 bits against the block's
 *           largest, and every element rounded again against the stored values;
 *   Q3_K    per 16 elements a symmetric fit to levels -4..3 refined by up to 5 passes of
 *           coordinate descent (weights x^2); scales to 6 bits against the largest magnitude;
 *           elements rounded again against the stored scales;
 *   IQ4_XS  per 32 elements the codebook scale from 15 candidates around max / -127 with
 *           weighted least squares (weights x^2, or imatrix * sqrt(sigma^2 + x^2)); scales to
 *           6 bits; elements mapped to the nearest codebook value under the stored scale.
 * Rounding to integers is to nearest, ties to even (lrintf, as GGUF's nearest_int). Only
 * IQ4_XS reads the importance weights yet; Q2_K and Q3_K take them for a later imatrix path. */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

#define EPS_ZERO 1e-15f /* a group whose largest magnitude is below this is all zero */

static inline int nearest(float v) { return (int)lrintf(v); }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Q2_K and Q3_K's 2-bit fields: element 128h + 32g + l at bits 2g of qs[32h + l]. */
static void pack_2bit(uint8_t *qs, const uint8_t *L)
{
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            const uint8_t *e = L + 128 * h + l;
            qs[32 * h + l] = (uint8_t)(e[0] | e[32] << 2 | e[64] << 4 | e[96] << 6);
        }
}

/* ---- Q2_K ------------------------------------------------------------------------------- */

/* x ~ scale * L - min_out over n elements, L in [0, nmax]: returns scale, sets *min_out. */
static float fit_affine(int n, int nmax, const float *x, const float *wt, uint8_t *L,
                        float *min_out)
{
    const float rmin = -0.5f, rdelta = 0.1f;
    const int nstep = 15;
    uint8_t Laux[16];
    float lo = x[0], hi = x[0], sum_w = wt[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
        sum_w += wt[i];
        sum_x += wt[i] * x[i];
    }
    if (lo > 0) lo = 0;
    if (hi == lo) {
        memset(L, 0, (size_t)n);
        *min_out = -lo;
        return 0.0f;
    }
    float iscale = (float)nmax / (hi - lo), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest(iscale * (x[i] - lo)), 0, nmax);
        best += wt[i] * fabsf(scale * L[i] + lo - x[i]);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * (float)is + (float)nmax) / (hi - lo);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * (x[i] - lo)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += wt[i] * (float)l;
            sum_l2 += wt[i] * (float)l * (float)l;
            sum_xl += wt[i] * (float)l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D <= 0) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
        float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) {
            this_min = 0;
            this_scale = sum_xl / sum_l2;
        }
        float err = 0;
        for (int i = 0; i < n; i++)
            err += wt[i] * fabsf(this_scale * Laux[i] + this_min - x[i]);
        if (err < best) {
            memcpy(L, Laux, (size_t)n);
            best = err;
            scale = this_scale;
            lo = this_min;
        }
    }
    *min_out = -lo;
    return scale;
}

void tlm_quantize_q2_K_ref(void *dst, const float *src, int64_t n, const float *imatrix)
{
    (void)imatrix;
    block_q2_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++, src += QK_K) {
        const float *x = src;
        uint8_t L[QK_K];
        float wt[16], scales[16], mins[16], max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++)
                wt[l] = fabsf(x[16 * j + l]);
            scales[j] = fit_affine(16, 3, x + 16 * j, wt, L + 16 * j, &mins[j]);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        memset(y[b].scales, 0, 16);
        y[b].d = y[b].dmin = tlm_f32_to_f16(0.0f);
        if (max_scale > 0) {
            const float is = 15.0f / max_scale;
            for (int j = 0; j < 16; j++)
                y[b].scales[j] = (uint8_t)nearest(is * scales[j]);
            y[b].d = tlm_f32_to_f16(max_scale / 15.0f);
        }
        if (max_min > 0) {
            const float is = 15.0f / max_min;
            for (int j = 0; j < 16; j++)
                y[b].scales[j] |= (uint8_t)(nearest(is * mins[j]) << 4);
            y[b].dmin = tlm_f32_to_f16(max_min / 15.0f);
        }
        /* every element again against the scales as stored */
        for (int j = 0; j < 16; j++) {
            const float d = tlm_f16_to_f32(y[b].d) * (float)(y[b].scales[j] & 15);
            if (d == 0) continue;
            const float dm = tlm_f16_to_f32(y[b].dmin) * (float)(y[b].scales[j] >> 4);
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (uint8_t)clampi(nearest((x[16 * j + l] + dm) / d), 0, 3);
        }
        pack_2bit(y[b].qs, L);
    }
}

/* ---- Q3_K ------------------------------------------------------------------------------- */

/* x ~ scale * (L - nmax) over n elements, L - nmax in [-nmax, nmax - 1]: returns scale. */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    if (amax < EPS_ZERO) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    const float iscale = (float)-nmax / max; /* the largest magnitude maps to -nmax */
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * (float)l;
        suml2 += w * (float)l * (float)l;
    }
    for (int pass = 0; pass < 5; pass++) { /* move one level at a time while the fit improves */
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * (float)L[i];
            if (slx <= 0) continue;
            float sl2 = suml2 - w * (float)L[i] * (float)L[i];
            int l = clampi(nearest(x[i] * sl2 / slx), -nmax, nmax - 1);
            if (l == L[i]) continue;
            slx += w * x[i] * (float)l;
            sl2 += w * (float)l * (float)l;
            if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (int8_t)l;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    for (int i = 0; i < n; i++)
        L[i] = (int8_t)(L[i] + nmax);
    return sumlx / suml2;
}

void tlm_quantize_q3_K_ref(void *dst, const float *src, int64_t n, const float *imatrix)
{
    (void)imatrix;
    block_q3_K *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++, src += QK_K) {
        const float *x = src;
        int8_t L[QK_K];
        float scales[16], amax = 0, max_scale = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_symmetric(16, 4, x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) {
                amax = fabsf(scales[j]);
                max_scale = scales[j];
            }
        }
        memset(y[b].scales, 0, 12);
        y[b].d = tlm_f32_to_f16(0.0f);
        if (max_scale != 0) {
            const float iscale = -32.0f / max_scale;
            for (int j = 0; j < 16; j++) {
                int l = clampi(nearest(iscale * scales[j]), -32, 31) + 32;
                if (j < 8) y[b].scales[j] = (uint8_t)(l & 15);
                else y[b].scales[j - 8] |= (uint8_t)((l & 15) << 4);
                y[b].scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            y[b].d = tlm_f32_to_f16(1 / iscale);
        }
        for (int j = 0; j < 16; j++) {
            const float d = tlm_f16_to_f32(y[b].d) * (float)tlm_q3_K_scale(y[b].scales, j);
            if (d == 0) continue;
            for (int l = 0; l < 16; l++)
                L[16 * j + l] = (int8_t)(clampi(nearest(x[16 * j + l] / d), -4, 3) + 4);
        }
        /* levels 4..7 keep their hmask bit and store L - 4; 0..3 leave it clear */
        memset(y[b].hmask, 0, 32);
        uint8_t low[QK_K];
        for (int i = 0; i < QK_K; i++) {
            if (L[i] > 3) y[b].hmask[i % 32] |= (uint8_t)(1 << (i / 32));
            low[i] = (uint8_t)(L[i] > 3 ? L[i] - 4 : L[i]);
        }
        pack_2bit(y[b].qs, low);
    }
}

/* ---- IQ4_XS ----------------------------------------------------------------------------- */

/* Index of the codebook value nearest v (ties to the lower index only when strictly closer
 * above, as GGUF's best_index_int8). */
static int nearest_code(float v)
{
    const int8_t *kv = tlm_iq4_values;
    if (v <= kv[0]) return 0;
    if (v >= kv[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < kv[mid]) hi = mid;
        else lo = mid;
    }
    return v - kv[hi - 1] < kv[hi] - v ? hi - 1 : hi;
}

void tlm_quantize_iq4_xs_ref(void *dst, const float *src, int64_t n, const float *imatrix)
{
    const int ntry = 7;
    const int8_t *kv = tlm_iq4_values;
    block_iq4_xs *y = dst;
    for (int64_t b = 0; b < n / QK_K; b++, src += QK_K) {
        const float *x = src;
        const float *qw = imatrix ? imatrix + b * QK_K : NULL;
        uint8_t L[QK_K];
        float scales[8], wt[32], sigma2 = 0, max_scale = 0, amax_scale = 0;
        for (int j = 0; j < QK_K; j++)
            sigma2 += x[j] * x[j];
        sigma2 *= 2.0f / QK_K;
        for (int ib = 0; ib < 8; ib++) {
            const float *xb = x + 32 * ib;
            for (int j = 0; j < 32; j++)
                wt[j] = qw ? qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]) : xb[j] * xb[j];
            float amax = 0, max = 0;
            for (int j = 0; j < 32; j++)
                if (fabsf(xb[j]) > amax) {
                    amax = fabsf(xb[j]);
                    max = xb[j];
                }
            scales[ib] = 0;
            if (amax < EPS_ZERO) continue;
            float d = -max / kv[0], id = 1 / d, sumqx = 0, sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                float q = kv[nearest_code(id * xb[j])];
                sumqx += wt[j] * q * xb[j];
                sumq2 += wt[j] * q * q;
            }
            d = sumqx / sumq2;
            float best = d * sumqx;
            for (int t = -ntry; t <= ntry; t++) {
                id = ((float)t + kv[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < 32; j++) {
                    float q = kv[nearest_code(id * xb[j])];
                    sumqx += wt[j] * q * xb[j];
                    sumq2 += wt[j] * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            if (fabsf(d) > amax_scale) {
                amax_scale = fabsf(d);
                max_scale = d;
            }
        }
        /* 6-bit scales against the largest; the elements against each scale as quantized
         * (times the float d, as GGUF's quantizer does, not its f16 rounding) */
        const float d = -max_scale / 32;
        y[b].d = tlm_f32_to_f16(d);
        y[b].scales_h = 0;
        memset(y[b].scales_l, 0, 4);
        const float id = d != 0 ? 1 / d : 0.0f;
        for (int ib = 0; ib < 8; ib++) {
            int l = clampi(nearest(id * scales[ib]), -32, 31);
            const float dl = d * (float)l, idl = dl != 0 ? 1 / dl : 0.0f;
            for (int j = 0; j < 32; j++)
                L[32 * ib + j] = (uint8_t)nearest_code(idl * x[32 * ib + j]);
            l += 32;
            y[b].scales_l[ib / 2] |= (uint8_t)((l & 15) << (4 * (ib % 2)));
            y[b].scales_h = (uint16_t)(y[b].scales_h | (l >> 4) << (2 * ib));
        }
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 16; j++)
                y[b].qs[16 * i + j] = (uint8_t)(L[32 * i + j] | L[32 * i + 16 + j] << 4);
    }
}
