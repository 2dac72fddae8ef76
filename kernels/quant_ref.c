/* quant_ref.c - reference quantizers for the GGUF block types whose layouts quant.h gives.
 *
 * Written from the format description, for clarity rather than speed. Each block is
 * quantized alone. Q8_0 and Q4_0 scale by the block's largest magnitude; the K-quants search
 * a few candidate scales per sub-block, refine each by least squares, and keep the one with
 * the smallest squared error. Every element is then rounded against the scales exactly as
 * they are stored (f16 super-block scales times 6-bit or int8 sub-block scales), so the
 * dequantized value is the nearest one the stored scales can represent. Values that are
 * already representable come back bit for bit (tests/kernels/test_quant_ref.c). */
#include <math.h>
#include <string.h>

#include "kernels.h"
#include "quant.h"

/* Candidate scales per sub-block: the range divided by (levels + t) for t in
 * [-CAND_SPAN, CAND_SPAN] in steps of CAND_STEP (t = 0, the plain max scale, comes first). */
#define CAND_SPAN 10
#define CAND_STEP 0.1f

/* Rounds v to the nearest integer in [lo, hi] (halves up); NaN gives lo. Written as a
 * clamp and a truncation of a non-negative value, without branches or libm calls, so the
 * compiler can vectorize the inner loops. */
static inline int round_clamp(float v, int lo, int hi)
{
    v = v > (float)lo ? v : (float)lo;
    v = v < (float)hi ? v : (float)hi;
    return (int)(v - (float)lo + 0.5f) + lo;
}

/* The value an f16 store will give back. */
static inline float f16_round(float x) { return tlm_f16_to_f32(tlm_f32_to_f16(x)); }

/* ---- Q8_0 and Q4_0: one scale per 32 elements ----------------------------------------- */

void tlm_quantize_q8_0_ref(void *dst, const float *src, int64_t n)
{
    block_q8_0 *blk = dst;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float *x = src + b * QK8_0;
        float amax = 0.0f;
        for (int i = 0; i < QK8_0; i++) {
            float a = x[i] < 0 ? -x[i] : x[i];
            if (a > amax) amax = a;
        }
        uint16_t dh = tlm_f32_to_f16(amax / 127.0f);
        float d = tlm_f16_to_f32(dh);
        blk[b].d = dh;
        for (int i = 0; i < QK8_0; i++)
            blk[b].qs[i] = (int8_t)(d > 0.0f ? round_clamp(x[i] / d, -127, 127) : 0);
    }
}

void tlm_quantize_q4_0_ref(void *dst, const float *src, int64_t n)
{
    block_q4_0 *blk = dst;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        const float *x = src + b * QK4_0;
        /* the element of largest magnitude maps to -8, the one level without a mirror */
        float amax = 0.0f, max = 0.0f;
        for (int i = 0; i < QK4_0; i++) {
            float a = x[i] < 0 ? -x[i] : x[i];
            if (a > amax) {
                amax = a;
                max = x[i];
            }
        }
        uint16_t dh = tlm_f32_to_f16(max / -8.0f);
        float d = tlm_f16_to_f32(dh);
        blk[b].d = dh;
        uint8_t q[QK4_0];
        for (int i = 0; i < QK4_0; i++)
            q[i] = (uint8_t)(d != 0.0f ? round_clamp(x[i] / d + 8.0f, 0, 15) : 8);
        for (int j = 0; j < QK4_0 / 2; j++)
            blk[b].qs[j] = (uint8_t)(q[j] | q[j + QK4_0 / 2] << 4);
    }
}

/* ---- sub-block scale searches ---------------------------------------------------------- */

/* The searches evaluate many candidate scales per sub-block, so their loops have fixed
 * lengths (the K-quants' sub-blocks: AFF_N = 32 elements with a min, SYM_N = 16 without)
 * and keep LANES independent partial sums added in a fixed order at the end: the compiler
 * can vectorize them without reassociating float sums, and results do not depend on the
 * build. Levels are kept as floats. (GCC 12 at -O2 vectorizes the Q4_K/Q5_K loops; it
 * turns the Q6_K clamps, whose bounds are constants, into branches, which is slower but
 * equally exact.) */
enum { LANES = 8, AFF_N = 32, SYM_N = 16 };

static float lane_sum(const float *acc)
{
    float s = 0.0f;
    for (int j = 0; j < LANES; j++)
        s += acc[j];
    return s;
}

/* Weighted squared error of x ~ s * q + m with q = round((x - m) / s) clamped to [0, nmax].
 * The weights w are 1 without an importance matrix (x * 1 is exact: the same bits as no
 * weights). */
static float affine_assign(const float *restrict x, const float *restrict w, float nmax, float s,
                           float m, float *restrict q)
{
    float inv = s > 0.0f ? 1.0f / s : 0.0f, acc[LANES] = {0};
    for (int i = 0; i < AFF_N; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float v = (x[i + j] - m) * inv;
            v = v > 0.0f ? v : 0.0f;
            v = v < nmax ? v : nmax;
            float qi = (float)(int)(v + 0.5f);
            float e = s * qi + m - x[i + j];
            q[i + j] = qi;
            acc[j] += w[i + j] * e * e;
        }
    return lane_sum(acc);
}

/* Weighted least-squares s, m for fixed q, with the offset m kept <= 0 (the formats store -m as an
 * unsigned 6-bit value); a positive free fit is replaced by the best fit through m = 0. */
static void affine_fit(const float *restrict x, const float *restrict w, const float *restrict q,
                       float *s, float *m)
{
    float a_w[LANES] = {0}, a_q[LANES] = {0}, a_qq[LANES] = {0}, a_x[LANES] = {0},
          a_qx[LANES] = {0};
    for (int i = 0; i < AFF_N; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float wq = w[i + j] * q[i + j];
            a_w[j] += w[i + j];
            a_q[j] += wq;
            a_qq[j] += wq * q[i + j];
            a_x[j] += w[i + j] * x[i + j];
            a_qx[j] += wq * x[i + j];
        }
    float sw = lane_sum(a_w), sq = lane_sum(a_q), sqq = lane_sum(a_qq), sx = lane_sum(a_x),
          sqx = lane_sum(a_qx);
    float det = sw * sqq - sq * sq;
    if (det > 0.0f) {
        *s = (sw * sqx - sq * sx) / det;
        *m = (sqq * sx - sq * sqx) / det;
    } else { /* every q equal: only the offset is determined */
        *s = 0.0f;
        *m = sw > 0.0f ? sx / sw : 0.0f;
    }
    if (*m > 0.0f) {
        *m = 0.0f;
        *s = sqq > 0.0f ? sqx / sqq : 0.0f;
    }
    if (*s < 0.0f) *s = 0.0f;
}

/* x[AFF_N] ~ s * q + m, q integer in [0, nmax], s >= 0, m <= 0: least squared error over
 * the candidate scales, each also refined by affine_fit. */
static void search_affine(const float *x, const float *w, int nmax, float *s_out, float *m_out)
{
    float lo = 0.0f, hi = x[0];
    for (int i = 0; i < AFF_N; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
    }
    *s_out = 0.0f;
    *m_out = lo;
    if (!(hi > lo)) return; /* all equal (and <= 0): the offset alone represents them */
    float q[AFF_N], fmax = (float)nmax;
    float best = affine_assign(x, w, fmax, 0.0f, lo, q);
    for (int k = 0; k <= 2 * CAND_SPAN; k++) {
        int t = k % 2 ? (k + 1) / 2 : -(k / 2); /* 0, 1, -1, 2, -2, ... */
        float s = (hi - lo) / (fmax + CAND_STEP * (float)t), m = lo;
        /* the candidate only proposes levels: the least-squares fit to them is at least as
         * good (the candidate is a feasible point of the fit), and so is rounding again to
         * the fitted scale (each level is then the nearest) */
        affine_assign(x, w, fmax, s, m, q);
        affine_fit(x, w, q, &s, &m);
        float err = affine_assign(x, w, fmax, s, m, q);
        if (err < best) {
            best = err;
            *s_out = s;
            *m_out = m;
        }
    }
}

/* Weighted squared error of x ~ s * q with q = round(x / s) clamped to [-32, 31] (Q6_K's
 * levels); w as for affine_assign. */
static float symmetric_assign(const float *restrict x, const float *restrict w, float s,
                              float *restrict q)
{
    float inv = s != 0.0f ? 1.0f / s : 0.0f, e2[SYM_N];
    for (int i = 0; i < SYM_N; i++) {
        float v = x[i] * inv + 32.0f; /* shifted to [0, 63] to round by truncation */
        v = v > 0.0f ? v : 0.0f;
        v = v < 63.0f ? v : 63.0f;
        float qi = (float)(int)(v + 0.5f) - 32.0f;
        float e = s * qi - x[i];
        q[i] = qi;
        e2[i] = w[i] * e * e;
    }
    return lane_sum(e2) + lane_sum(e2 + LANES);
}

/* Weighted least-squares s for fixed q (0 when every q is 0). */
static float symmetric_fit(const float *restrict x, const float *restrict w,
                           const float *restrict q)
{
    float a_qx[LANES] = {0}, a_qq[LANES] = {0};
    for (int i = 0; i < SYM_N; i += LANES)
        for (int j = 0; j < LANES; j++) {
            float wq = w[i + j] * q[i + j];
            a_qx[j] += wq * x[i + j];
            a_qq[j] += wq * q[i + j];
        }
    float sqq = lane_sum(a_qq);
    return sqq > 0.0f ? lane_sum(a_qx) / sqq : 0.0f;
}

/* x[SYM_N] ~ s * q, q integer in [-32, 31]: the signed scale starts by mapping the element
 * of largest magnitude to -32 (the level without a mirror), then candidates around it, each
 * refined by least squares. */
static float search_symmetric(const float *x, const float *w)
{
    float amax = 0.0f, max = 0.0f;
    for (int i = 0; i < SYM_N; i++) {
        float a = x[i] < 0 ? -x[i] : x[i];
        if (a > amax) {
            amax = a;
            max = x[i];
        }
    }
    if (amax == 0.0f) return 0.0f;
    float q[SYM_N], best_s = 0.0f, best = symmetric_assign(x, w, 0.0f, q);
    for (int k = 0; k <= 2 * CAND_SPAN; k++) {
        int t = k % 2 ? (k + 1) / 2 : -(k / 2);
        float s = max / (-32.0f - CAND_STEP * (float)t);
        symmetric_assign(x, w, s, q); /* proposes levels; the fit is at least as good */
        s = symmetric_fit(x, w, q);
        float err = symmetric_assign(x, w, s, q);
        if (err < best) {
            best = err;
            best_s = s;
        }
    }
    return best_s;
}

/* ---- Q4_K and Q5_K: 8 sub-blocks of 32, 6-bit scales and mins ------------------------ */

/* Packs 6-bit scale sc[j] and min mn[j] of sub-block j into scales[12]: j < 4 in the low 6
 * bits of bytes j (scale) and j + 4 (min); j >= 4 with their low 4 bits in byte j + 4
 * (scale low, min high nibble) and their top 2 bits in the top bits of bytes j - 4 (scale)
 * and j (min). */
static void pack_scale_min_k4(uint8_t *scales, const uint8_t *sc, const uint8_t *mn)
{
    memset(scales, 0, K_SCALE_SIZE);
    for (int j = 0; j < 4; j++) {
        scales[j] = sc[j];
        scales[j + 4] = mn[j];
    }
    for (int j = 4; j < 8; j++) {
        scales[j + 4] = (uint8_t)((sc[j] & 0xF) | (mn[j] & 0xF) << 4);
        scales[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
        scales[j] |= (uint8_t)((mn[j] >> 4) << 6);
    }
}

/* The inverse of pack_scale_min_k4 for sub-block j. */
static void get_scale_min_k4(int j, const uint8_t *scales, uint8_t *sc, uint8_t *mn)
{
    if (j < 4) {
        *sc = scales[j] & 63;
        *mn = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 0xF) | (scales[j - 4] >> 6) << 4);
        *mn = (uint8_t)((scales[j + 4] >> 4) | (scales[j] >> 6) << 4);
    }
}

/* The importance weights of one super-block x[QK_K] from the matrix's column weights qw, as
 * ggml's K-quants form them: qw_i * sqrt(sigma^2 + x_i^2), sigma^2 = 2 * mean(x^2), so an
 * element counts by its column's importance and its own size. Without qw, all 1. */
static void element_weights(const float *x, const float *qw, float *w)
{
    if (!qw) {
        for (int i = 0; i < QK_K; i++)
            w[i] = 1.0f;
        return;
    }
    float sum_x2 = 0.0f;
    for (int i = 0; i < QK_K; i++)
        sum_x2 += x[i] * x[i];
    const float sigma2 = 2.0f * sum_x2 / QK_K;
    for (int i = 0; i < QK_K; i++)
        w[i] = qw[i] * sqrtf(sigma2 + x[i] * x[i]);
}

/* The 6-bit levels of n positive values v (sub-block scales or mins) and their step: without
 * weights the largest maps to 63; with weights sw (each sub-block's total element weight) the
 * step is chosen among 21 candidates around that one, each refitted by weighted least squares,
 * for the least weighted squared error, as ggml's make_qp_quants does. */
static float quantize_scales6(const float *v, const float *sw, int n, uint8_t *l)
{
    float max = 0.0f;
    for (int j = 0; j < n; j++)
        if (v[j] > max) max = v[j];
    float best_d = f16_round(max / 63.0f);
    for (int k = 0; sw && max > 0.0f && k <= 20; k++) {
        float d = max / (63.0f + 0.1f * (float)(k - 10)), sxl = 0.0f, sll = 0.0f;
        for (int j = 0; j < n; j++) { /* levels for this step, then the fitted step */
            float lj = (float)round_clamp(v[j] / d, 0, 63);
            sxl += sw[j] * v[j] * lj;
            sll += sw[j] * lj * lj;
        }
        if (sll > 0.0f) d = sxl / sll;
        d = f16_round(d); /* the step as stored */
        float err = 0.0f, best = 0.0f;
        for (int j = 0; j < n; j++) {
            float e = v[j] - d * (float)round_clamp(v[j] / d, 0, 63);
            float eb =
                best_d > 0.0f ? v[j] - best_d * (float)round_clamp(v[j] / best_d, 0, 63) : v[j];
            err += sw[j] * e * e;
            best += sw[j] * eb * eb;
        }
        if (d > 0.0f && err < best) best_d = d;
    }
    for (int j = 0; j < n; j++)
        l[j] = (uint8_t)(best_d > 0.0f ? round_clamp(v[j] / best_d, 0, 63) : 0);
    return best_d;
}

/* One super-block of QK_K values into d, dmin, scales and the levels L[QK_K] in [0, nmax]
 * (nmax 15 for Q4_K, 31 for Q5_K): x ~ d * sc[j] * L - dmin * mn[j] for sub-block j. qw: the
 * importance matrix's weights of these QK_K columns, or NULL. */
static void quantize_k_affine(const float *x, const float *qw, int nmax, uint16_t *d_out,
                              uint16_t *dmin_out, uint8_t *scales, uint8_t *L)
{
    enum { SUB = 32, N_SUB = QK_K / 32 };
    float w[QK_K], s[N_SUB], mneg[N_SUB], sw[N_SUB];
    element_weights(x, qw, w);
    for (int j = 0; j < N_SUB; j++) {
        float m;
        search_affine(x + SUB * j, w + SUB * j, nmax, &s[j], &m);
        mneg[j] = -m;
        sw[j] = 0.0f;
        for (int i = 0; i < SUB; i++)
            sw[j] += w[SUB * j + i];
    }
    uint8_t sc[N_SUB], mn[N_SUB];
    float d = quantize_scales6(s, qw ? sw : NULL, N_SUB, sc);
    float dmin = quantize_scales6(mneg, qw ? sw : NULL, N_SUB, mn);
    *d_out = tlm_f32_to_f16(d);
    *dmin_out = tlm_f32_to_f16(dmin);
    pack_scale_min_k4(scales, sc, mn);
    /* levels against the scales as stored (read back through the packing) */
    for (int j = 0; j < N_SUB; j++) {
        uint8_t scj, mnj;
        get_scale_min_k4(j, scales, &scj, &mnj);
        float step = d * (float)scj, off = dmin * (float)mnj;
        for (int i = 0; i < SUB; i++)
            L[SUB * j + i] =
                (uint8_t)(step > 0.0f ? round_clamp((x[SUB * j + i] + off) / step, 0, nmax) : 0);
    }
}

void tlm_quantize_q4_K_imatrix(void *dst, const float *src, int64_t n, const float *imatrix)
{
    block_q4_K *blk = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t L[QK_K];
        quantize_k_affine(src + b * QK_K, imatrix ? imatrix + b * QK_K : NULL, 15, &blk[b].d,
                          &blk[b].dmin, blk[b].scales, L);
        /* chunk c of 64: low nibbles elements 64c..64c+31, high nibbles 64c+32..64c+63 */
        for (int c = 0; c < QK_K / 64; c++)
            for (int l = 0; l < 32; l++)
                blk[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void tlm_quantize_q4_K_ref(void *dst, const float *src, int64_t n)
{
    tlm_quantize_q4_K_imatrix(dst, src, n, NULL);
}

void tlm_quantize_q5_K_imatrix(void *dst, const float *src, int64_t n, const float *imatrix)
{
    block_q5_K *blk = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t L[QK_K];
        quantize_k_affine(src + b * QK_K, imatrix ? imatrix + b * QK_K : NULL, 31, &blk[b].d,
                          &blk[b].dmin, blk[b].scales, L);
        memset(blk[b].qh, 0, sizeof blk[b].qh);
        /* as Q4_K for the low 4 bits; bit 2c (2c + 1) of qh[l] is the fifth bit of element
         * 64c + l (64c + 32 + l) */
        for (int c = 0; c < QK_K / 64; c++)
            for (int l = 0; l < 32; l++) {
                int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                blk[b].qs[32 * c + l] = (uint8_t)((lo & 0xF) | (hi & 0xF) << 4);
                blk[b].qh[l] |= (uint8_t)((lo >> 4) << (2 * c) | (hi >> 4) << (2 * c + 1));
            }
    }
}

void tlm_quantize_q5_K_ref(void *dst, const float *src, int64_t n)
{
    tlm_quantize_q5_K_imatrix(dst, src, n, NULL);
}

/* ---- Q6_K: 16 sub-blocks of 16, int8 scales ------------------------------------------- */

/* Q6_K weighs each element by its column's importance alone, as ggml's Q6_K does. */
void tlm_quantize_q6_K_imatrix(void *dst, const float *src, int64_t n, const float *imatrix)
{
    enum { SUB = 16, N_SUB = QK_K / 16 };
    static const float ones[SUB] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    block_q6_K *blk = dst;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *x = src + b * QK_K, *qw = imatrix ? imatrix + b * QK_K : NULL;
        float s[N_SUB], amax = 0.0f, max = 0.0f;
        for (int j = 0; j < N_SUB; j++) {
            s[j] = search_symmetric(x + SUB * j, qw ? qw + SUB * j : ones);
            float a = s[j] < 0 ? -s[j] : s[j];
            if (a > amax) {
                amax = a;
                max = s[j];
            }
        }
        /* the largest sub-block scale maps to -128, the int8 level without a mirror */
        blk[b].d = tlm_f32_to_f16(max / -128.0f);
        float d = tlm_f16_to_f32(blk[b].d);
        uint8_t L[QK_K];
        for (int j = 0; j < N_SUB; j++) {
            blk[b].scales[j] = (int8_t)(d != 0.0f ? round_clamp(s[j] / d, -128, 127) : 0);
            float step = d * (float)blk[b].scales[j];
            for (int i = 0; i < SUB; i++)
                L[SUB * j + i] =
                    (uint8_t)(step != 0.0f ? round_clamp(x[SUB * j + i] / step, -32, 31) + 32 : 32);
        }
        /* half h of 128: ql[64h + l] holds elements 128h + l (low nibble) and 128h + 64 + l
         * (high); ql[64h + 32 + l] holds 128h + 32 + l and 128h + 96 + l; qh[32h + l] holds
         * the top 2 bits of the same four elements in bit pairs 0, 2, 4, 6 */
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++) {
                int q1 = L[128 * h + l], q2 = L[128 * h + 32 + l];
                int q3 = L[128 * h + 64 + l], q4 = L[128 * h + 96 + l];
                blk[b].ql[64 * h + l] = (uint8_t)((q1 & 0xF) | (q3 & 0xF) << 4);
                blk[b].ql[64 * h + 32 + l] = (uint8_t)((q2 & 0xF) | (q4 & 0xF) << 4);
                blk[b].qh[32 * h + l] =
                    (uint8_t)((q1 >> 4) | (q2 >> 4) << 2 | (q3 >> 4) << 4 | (q4 >> 4) << 6);
            }
    }
}

void tlm_quantize_q6_K_ref(void *dst, const float *src, int64_t n)
{
    tlm_quantize_q6_K_imatrix(dst, src, n, NULL);
}
