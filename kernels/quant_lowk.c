/* quant_lowk.c - reference quantizers of Q2_K, Q3_K and IQ4_XS (layouts in quant_lowk.h),
 * rounding as GGUF's reference quantizers do, so that their files and these agree:
 *   Q2_K    per 16 elements an affine fit (scale, min >= 0): the range's scale and 16
 *           candidates around it, each refit by weighted least squares (weights |x|), the one
 *           of least weighted absolute difference kept; scales and mins then quantized to 4
 *           bits against the block's largest, every element rounded again against the stored
 *           values;
 *   Q3_K    per 16 elements a symmetric fit to levels -4..3 refined by up to 5 passes of
 *           coordinate descent (weights x^2); scales to 6 bits against the largest magnitude;
 *           elements rounded again against the stored scales;
 *   IQ4_XS  per 32 elements the codebook scale from 15 candidates around max / -127 with
 *           weighted least squares (weights x^2, or imatrix * sqrt(sigma^2 + x^2)); scales to
 *           6 bits; elements mapped to the nearest codebook value under the stored scale.
 * Rounding to integers is to nearest, ties to even (lrintf, as GGUF's nearest_int). With an
 * importance matrix (one weight per column) each takes GGUF's weighted variant: Q2_K and Q3_K
 * then fit their sub-block scales by weighted least squares too (q2_K_weighted, q3_K_weighted). */
#include <math.h>
#include <stdbool.h>
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

/* x ~ scale * L - min_out over n elements, L in [0, nmax]: returns scale, sets *min_out.
 * Candidate scales (rmin + rdelta * is + nmax) / range for is in [0, nstep], each refit by
 * weighted least squares; the error is weighted |diff| (mad) or diff^2. */
static float fit_affine(int n, int nmax, const float *x, const float *wt, uint8_t *L,
                        float *min_out, float rmin, float rdelta, int nstep, bool mad)
{
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
        const float diff = scale * L[i] + lo - x[i];
        best += wt[i] * (mad ? fabsf(diff) : diff * diff);
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
        for (int i = 0; i < n; i++) {
            const float diff = this_scale * Laux[i] + this_min - x[i];
            err += wt[i] * (mad ? fabsf(diff) : diff * diff);
        }
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

/* Non-negative values (sub-block scales or mins) to levels 0..nmax with one scale: candidates
 * nmax / max and 8 around it by weighted squared error, then up to 5 passes moving single
 * levels while the weighted least-squares fit improves. L as bytes, as GGUF's make_qp_quants. */
static float fit_positive(int n, int nmax, const float *x, uint8_t *L, const float *wt)
{
    float max = 0;
    for (int i = 0; i < n; i++)
        max = max > x[i] ? max : x[i];
    if (max == 0) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)nmax / max, scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)nearest(iscale * x[i]);
    for (int i = 0; i < n; i++) {
        const float diff = x[i] - scale * L[i];
        best += wt[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        const float iscale_is = (0.1f * (float)is + (float)nmax) / max, scale_is = 1 / iscale_is;
        float err = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest(iscale_is * x[i]);
            l = l < nmax ? l : nmax;
            const float diff = x[i] - scale_is * (float)l;
            err += wt[i] * diff * diff;
        }
        if (err < best) {
            best = err;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        sumlx += wt[i] * x[i] * (float)l;
        suml2 += wt[i] * (float)l * (float)l;
    }
    for (int pass = 0; pass < 5; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float slx = sumlx - wt[i] * x[i] * L[i], sl2 = suml2 - wt[i] * L[i] * L[i];
            if (!(slx > 0 && sl2 > 0)) continue;
            int l = nearest(x[i] * sl2 / slx);
            l = l < nmax ? l : nmax;
            if (l == L[i]) continue;
            slx += wt[i] * x[i] * (float)l;
            sl2 += wt[i] * (float)l * (float)l;
            if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                L[i] = (uint8_t)l;
                sumlx = slx;
                suml2 = sl2;
                changed++;
            }
        }
        if (!changed) break;
    }
    return sumlx / suml2;
}

/* Every element of block y again against its stored scales (Q2_K), then the 2-bit fields. */
static void q2_K_finish(block_q2_K *y, const float *x, uint8_t *L)
{
    for (int j = 0; j < 16; j++) {
        const float d = tlm_f16_to_f32(y->d) * (float)(y->scales[j] & 15);
        if (d == 0) continue;
        const float dm = tlm_f16_to_f32(y->dmin) * (float)(y->scales[j] >> 4);
        for (int l = 0; l < 16; l++)
            L[16 * j + l] = (uint8_t)clampi(nearest((x[16 * j + l] + dm) / d), 0, 3);
    }
    pack_2bit(y->qs, L);
}

/* With importance weights (GGUF's quantize_row_q2_K_impl): weights imatrix * sqrt(sigma^2 +
 * x^2), a finer scale search by squared error, and the 4-bit scales and mins fitted by
 * fit_positive weighted by each sub-block's total weight. */
static void q2_K_weighted(block_q2_K *y, const float *x, const float *qw)
{
    uint8_t L[QK_K], Ls[16], Lm[16];
    float wt[16], sw[16], scales[16], mins[16], sumx2 = 0;
    for (int j = 0; j < QK_K; j++)
        sumx2 += x[j] * x[j];
    const float sigma2 = sumx2 / QK_K;
    for (int j = 0; j < 16; j++) {
        sw[j] = 0;
        for (int l = 0; l < 16; l++)
            wt[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        for (int l = 0; l < 16; l++)
            sw[j] += wt[l];
        scales[j] =
            fit_affine(16, 3, x + 16 * j, wt, L + 16 * j, &mins[j], -0.9f, 0.05f, 36, false);
    }
    y->d = tlm_f32_to_f16(fit_positive(16, 15, scales, Ls, sw));
    y->dmin = tlm_f32_to_f16(fit_positive(16, 15, mins, Lm, sw));
    for (int j = 0; j < 16; j++)
        y->scales[j] = (uint8_t)(Ls[j] | Lm[j] << 4);
    q2_K_finish(y, x, L);
}

void tlm_quantize_q2_K_ref(void *dst, const float *src, int64_t n, const float *imatrix)
{
    block_q2_K *y = dst;
    if (imatrix) {
        for (int64_t b = 0; b < n / QK_K; b++)
            q2_K_weighted(&y[b], src + b * QK_K, imatrix + b * QK_K);
        return;
    }
    for (int64_t b = 0; b < n / QK_K; b++, src += QK_K) {
        const float *x = src;
        uint8_t L[QK_K];
        float wt[16], scales[16], mins[16], max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            for (int l = 0; l < 16; l++)
                wt[l] = fabsf(x[16 * j + l]);
            scales[j] =
                fit_affine(16, 3, x + 16 * j, wt, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
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
        q2_K_finish(&y[b], x, L); /* every element again against the scales as stored */
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

/* x ~ scale * (L - nmax), L - nmax in [-nmax, nmax - 1], by weighted least squares over the
 * scales nmax / max and 18 candidates around it (GGUF's make_qx_quants with given weights). */
static float fit_symmetric_weighted(int n, int nmax, const float *x, int8_t *L, const float *wt)
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
    float iscale = (float)-nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        sumlx += wt[i] * x[i] * (float)l;
        suml2 += wt[i] * (float)l * (float)l;
    }
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -((float)nmax + 0.1f * (float)is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
            sumlx += wt[i] * x[i] * (float)l;
            suml2 += wt[i] * (float)l * (float)l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++)
                L[i] = (int8_t)(nmax + clampi(nearest(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Q3_K's 6-bit scale j (0..63, biased) into the 12 bytes (zeroed first). */
static void q3_K_put_scale(uint8_t *scales, int j, int l)
{
    if (j < 8)
        scales[j] = (uint8_t)(l & 15);
    else
        scales[j - 8] |= (uint8_t)((l & 15) << 4);
    scales[8 + j % 4] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
}

/* Every element of y again against its stored scales (Q3_K), then hmask and the 2-bit fields.
 * Levels 4..7 keep their hmask bit and store L - 4; 0..3 leave it clear. */
static void q3_K_finish(block_q3_K *y, const float *x, int8_t *L)
{
    for (int j = 0; j < 16; j++) {
        const float d = tlm_f16_to_f32(y->d) * (float)tlm_q3_K_scale(y->scales, j);
        if (d == 0) continue;
        for (int l = 0; l < 16; l++)
            L[16 * j + l] = (int8_t)(clampi(nearest(x[16 * j + l] / d), -4, 3) + 4);
    }
    memset(y->hmask, 0, 32);
    uint8_t low[QK_K];
    for (int i = 0; i < QK_K; i++) {
        if (L[i] > 3) y->hmask[i % 32] |= (uint8_t)(1 << (i / 32));
        low[i] = (uint8_t)(L[i] > 3 ? L[i] - 4 : L[i]);
    }
    pack_2bit(y->qs, low);
}

/* With importance weights (GGUF's quantize_row_q3_K_impl): weights imatrix * sqrt(sigma^2 +
 * x^2) per element, the 6-bit scales fitted the same way weighted by each sub-block's total. */
static void q3_K_weighted(block_q3_K *y, const float *x, const float *qw)
{
    int8_t L[QK_K], Ls[16];
    float wt[16], sw[16], scales[16], sumx2 = 0;
    for (int j = 0; j < QK_K; j++)
        sumx2 += x[j] * x[j];
    const float sigma2 = 2 * sumx2 / QK_K;
    for (int j = 0; j < 16; j++) {
        for (int l = 0; l < 16; l++)
            wt[l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; l++)
            sumw += wt[l];
        sw[j] = sumw;
        scales[j] = fit_symmetric_weighted(16, 4, x + 16 * j, L + 16 * j, wt);
    }
    memset(y->scales, 0, 12);
    const float d_block = fit_symmetric_weighted(16, 32, scales, Ls, sw);
    for (int j = 0; j < 16; j++)
        q3_K_put_scale(y->scales, j, Ls[j]);
    y->d = tlm_f32_to_f16(d_block);
    q3_K_finish(y, x, L);
}

void tlm_quantize_q3_K_ref(void *dst, const float *src, int64_t n, const float *imatrix)
{
    block_q3_K *y = dst;
    if (imatrix) {
        for (int64_t b = 0; b < n / QK_K; b++)
            q3_K_weighted(&y[b], src + b * QK_K, imatrix + b * QK_K);
        return;
    }
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
            for (int j = 0; j < 16; j++)
                q3_K_put_scale(y[b].scales, j, clampi(nearest(iscale * scales[j]), -32, 31) + 32);
            y[b].d = tlm_f32_to_f16(1 / iscale);
        }
        q3_K_finish(&y[b], x, L);
    }
}

/* ---- IQ4_XS ----------------------------------------------------------------------------- */

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
                float q = kv[tlm_iq4_nearest(id * xb[j])];
                sumqx += wt[j] * q * xb[j];
                sumq2 += wt[j] * q * q;
            }
            d = sumqx / sumq2;
            float best = d * sumqx;
            for (int t = -ntry; t <= ntry; t++) {
                id = ((float)t + kv[0]) / max;
                sumqx = sumq2 = 0;
                for (int j = 0; j < 32; j++) {
                    float q = kv[tlm_iq4_nearest(id * xb[j])];
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
                L[32 * ib + j] = (uint8_t)tlm_iq4_nearest(idl * x[32 * ib + j]);
            l += 32;
            y[b].scales_l[ib / 2] |= (uint8_t)((l & 15) << (4 * (ib % 2)));
            y[b].scales_h = (uint16_t)(y[b].scales_h | (l >> 4) << (2 * ib));
        }
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 16; j++)
                y[b].qs[16 * i + j] = (uint8_t)(L[32 * i + j] | L[32 * i + 16 + j] << 4);
    }
}
