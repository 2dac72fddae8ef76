/* attention_rows_avx2.c - attention for a block of queries that share one KV head, with AVX2:
 * the same scheme as attention_rows_avx512.c (queries in the lanes for the scores and the
 * online softmax over chunks of TLM_ATTN_CHUNK keys, values in the lanes for the output;
 * each key and value row widened once per block), with 8 lanes and tiles cut to AVX2's 16
 * registers. Keys outside a query's [lo, hi) weigh exactly 0 and a chunk without any of its
 * keys leaves it untouched, so a query's result does not depend on its block. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx2.h"

enum {
    QVECS = TLM_ATTN_ROWS / 8, /* query vectors per block */
    QPASS = 2,                 /* query vectors per pass over the head's dimensions */
    KTILE = 6,                 /* keys per pass: KTILE x QPASS accumulators */
    PROWS = 6,                 /* queries per pass over the values: PROWS x 2 accumulators */
};

/* out[0, n) = a cache row's first n elements as float. */
TLM_INLINE void widen_row(int type, float *out, const void *row, int32_t n)
{
    int32_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, load_kv(type, row, i));
    if (i < n) store_tail(out + i, load_kv_tail(type, row, i, n - i), n - i);
}

/* Scores of KTILE keys (kf [KTILE][head_dim]) for query vectors [c0, c0 + nv) of qt. */
TLM_INLINE void score_tile(int nv, float *s, int64_t ld, const float *qt, int c0,
                           const float *kf, int32_t head_dim, int nk, float scale)
{
    __m256 acc[KTILE][QPASS];
    for (int t = 0; t < KTILE; t++)
        for (int c = 0; c < nv; c++) acc[t][c] = _mm256_setzero_ps();
    for (int32_t d = 0; d < head_dim; d++) {
        __m256 qv[QPASS];
        for (int c = 0; c < nv; c++) qv[c] = _mm256_loadu_ps(qt + d * ld + 8 * (c0 + c));
        for (int t = 0; t < KTILE; t++) {
            __m256 kb = _mm256_broadcast_ss(kf + t * head_dim + d);
            for (int c = 0; c < nv; c++) acc[t][c] = _mm256_fmadd_ps(kb, qv[c], acc[t][c]);
        }
    }
    __m256 sc = _mm256_set1_ps(scale);
    for (int t = 0; t < nk; t++)
        for (int c = 0; c < nv; c++)
            _mm256_storeu_ps(s + t * ld + 8 * (c0 + c), _mm256_mul_ps(acc[t][c], sc));
}

/* Rows i0 .. i0 + nr of the accumulators acc [.][head_dim], dims [d, d + 8 nvec) (the last
 * vector cut to `tail`): scaled by alpha, then plus the weights p [keys][ld] (row 0 is key
 * a) times the values of keys [j0, j1). */
TLM_INLINE void weigh_tile(int type, int nvec, float *acc_rows, int32_t head_dim, int i0, int nr,
                           int64_t d, int tail, const void *v, int64_t kv_stride, int32_t a,
                           int32_t j0, int32_t j1, const float *p, int64_t ld, const float *alpha)
{
    __m256 acc[PROWS][2];
    for (int r = 0; r < nr; r++) {
        const float *row = acc_rows + (int64_t)(i0 + r) * head_dim + d;
        __m256 al = _mm256_set1_ps(alpha[i0 + r]);
        for (int c = 0; c < nvec; c++) {
            if (c == nvec - 1 && tail < 8) acc[r][c] = _mm256_mul_ps(load_tail(row + 8 * c, tail), al);
            else acc[r][c] = _mm256_mul_ps(_mm256_loadu_ps(row + 8 * c), al);
        }
    }
    for (int32_t j = j0; j < j1; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        __m256 vv[2];
        for (int c = 0; c < nvec; c++)
            vv[c] = c == nvec - 1 && tail < 8 ? load_kv_tail(type, vj, d + 8 * c, tail)
                                              : load_kv(type, vj, d + 8 * c);
        const float *pj = p + (int64_t)(j - a) * ld + i0;
        for (int r = 0; r < nr; r++) {
            __m256 pb = _mm256_broadcast_ss(pj + r);
            for (int c = 0; c < nvec; c++) acc[r][c] = _mm256_fmadd_ps(pb, vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; r++) {
        float *row = acc_rows + (int64_t)(i0 + r) * head_dim + d;
        for (int c = 0; c < nvec; c++) {
            if (c == nvec - 1 && tail < 8) store_tail(row + 8 * c, acc[r][c], tail);
            else _mm256_storeu_ps(row + 8 * c, acc[r][c]);
        }
    }
}

/* Online softmax over the chunk's keys [a, b) (rows of s), in place: p = exp(s - max) for
 * the keys each lane's query sees, 0 elsewhere, with max the running max mx of everything
 * seen so far; alpha = the factor for what came before (exactly 1 when the max holds),
 * and the running sums updated. */
static void softmax_chunk(float *s, int64_t ld, int nv, const int32_t *lo, const int32_t *hi,
                          int32_t nq, int32_t a, int32_t b, float *mx, float *sum, float *alpha)
{
    for (int c = 0; c < nv; c++) {
        int32_t lov[8], hiv[8];
        for (int l = 0; l < 8; l++) {
            int i = 8 * c + l;
            lov[l] = i < nq ? lo[i] : 0; /* padding lanes see no key */
            hiv[l] = i < nq ? hi[i] : 0;
        }
        __m256i vlo = _mm256_loadu_si256((const __m256i *)lov);
        __m256i vhi = _mm256_loadu_si256((const __m256i *)hiv);
        __m256 cm = _mm256_set1_ps(-INFINITY);
        for (int32_t j = a; j < b; j++) {
            __m256i vj = _mm256_set1_epi32(j);
            __m256 m = _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_cmpgt_epi32(vlo, vj),
                                                               _mm256_cmpgt_epi32(vhi, vj)));
            __m256 x = _mm256_loadu_ps(s + (j - a) * ld + 8 * c);
            cm = _mm256_blendv_ps(cm, _mm256_max_ps(cm, x), m);
        }
        __m256 old = _mm256_loadu_ps(mx + 8 * c), now = _mm256_max_ps(old, cm);
        __m256 grew = _mm256_cmp_ps(now, old, _CMP_GT_OQ);
        __m256 al = _mm256_blendv_ps(_mm256_set1_ps(1.0f), exp256(_mm256_sub_ps(old, now)), grew);
        __m256 total = _mm256_setzero_ps();
        for (int32_t j = a; j < b; j++) {
            __m256i vj = _mm256_set1_epi32(j);
            __m256 m = _mm256_castsi256_ps(_mm256_andnot_si256(_mm256_cmpgt_epi32(vlo, vj),
                                                               _mm256_cmpgt_epi32(vhi, vj)));
            float *row = s + (j - a) * ld + 8 * c;
            __m256 e = _mm256_and_ps(m, exp256(_mm256_sub_ps(_mm256_loadu_ps(row), now)));
            _mm256_storeu_ps(row, e);
            total = _mm256_add_ps(total, e);
        }
        _mm256_storeu_ps(mx + 8 * c, now);
        _mm256_storeu_ps(alpha + 8 * c, al);
        _mm256_storeu_ps(sum + 8 * c, _mm256_fmadd_ps(_mm256_loadu_ps(sum + 8 * c), al, total));
    }
}

TLM_INLINE void attn_rows(int type, float *const *out, const float *const *q, int32_t nq,
                          const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                          int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    int nv = (nq + 7) / 8;
    int64_t ld = 8 * nv;
    int32_t j_base = lo[0], span = hi[0];
    for (int i = 1; i < nq; i++) {
        j_base = lo[i] < j_base ? lo[i] : j_base;
        span = hi[i] > span ? hi[i] : span;
    }
    float *qt = scratch;                 /* [head_dim][ld] queries, transposed */
    float *acc = qt + head_dim * ld;     /* [ld][head_dim] output accumulators */
    float *kf = acc + head_dim * ld;     /* [KTILE][head_dim] widened keys */
    float *mx = kf + KTILE * head_dim;   /* [ld] running max */
    float *sum = mx + ld;                /* [ld] running sum */
    float *alpha = sum + ld;             /* [ld] this chunk's rescale factor */
    float *s = alpha + ld;               /* [TLM_ATTN_CHUNK][ld] scores, then weights */
    for (int32_t d = 0; d < head_dim; d++)
        for (int64_t i = 0; i < ld; i++) qt[d * ld + i] = i < nq ? q[i][d] : 0.0f;
    for (int64_t i = 0; i < ld; i++) {
        mx[i] = -INFINITY;
        sum[i] = 0.0f;
    }
    for (int64_t i = 0; i < ld * head_dim; i++) acc[i] = 0.0f;

    for (int32_t c0 = j_base - j_base % TLM_ATTN_CHUNK; c0 < span; c0 += TLM_ATTN_CHUNK) {
        int32_t a = c0 > j_base ? c0 : j_base;
        int32_t b = span - c0 < TLM_ATTN_CHUNK ? span : c0 + TLM_ATTN_CHUNK;
        for (int32_t j0 = a; j0 < b; j0 += KTILE) {
            int nk = b - j0 < KTILE ? b - j0 : KTILE;
            for (int t = 0; t < KTILE; t++) {
                if (t < nk) widen_row(type, kf + t * head_dim, cache_row(type, k, j0 + t, kv_stride), head_dim);
                else for (int32_t d = 0; d < head_dim; d++) kf[t * head_dim + d] = 0.0f;
            }
            float *st = s + (int64_t)(j0 - a) * ld;
            for (int c0q = 0; c0q < nv; c0q += QPASS) {
                if (nv - c0q >= 2) score_tile(2, st, ld, qt, c0q, kf, head_dim, nk, scale);
                else score_tile(1, st, ld, qt, c0q, kf, head_dim, nk, scale);
            }
        }
        softmax_chunk(s, ld, nv, lo, hi, nq, a, b, mx, sum, alpha);

        for (int64_t d = 0; d < head_dim; d += 16) {
            int64_t left = head_dim - d;
            int nvec = left > 8 ? 2 : 1;
            int tail = (int)(left >= 16 ? 8 : left > 8 ? left - 8 : left);
            for (int i0 = 0; i0 < nq; i0 += PROWS) {
                int nr = nq - i0 < PROWS ? nq - i0 : PROWS;
                int32_t j0 = lo[i0], j1 = hi[i0]; /* the keys this group sees, within the chunk */
                for (int r = 1; r < nr; r++) {
                    j0 = lo[i0 + r] < j0 ? lo[i0 + r] : j0;
                    j1 = hi[i0 + r] > j1 ? hi[i0 + r] : j1;
                }
                j0 = j0 > a ? j0 : a;
                j1 = j1 < b ? j1 : b;
                j1 = j1 > j0 ? j1 : j0;
                /* a full group with its shape constant (accumulators in registers), else one
                 * query at a time */
#define WEIGH(W, R, I) weigh_tile(type, W, acc, head_dim, I, R, d, tail, v, kv_stride, a, j0, j1, s, ld, alpha)
                if (nr == PROWS && nvec == 2) WEIGH(2, PROWS, i0);
                else if (nr == PROWS) WEIGH(1, PROWS, i0);
                else
                    for (int r = 0; r < nr; r++) {
                        if (nvec == 2) WEIGH(2, 1, i0 + r);
                        else WEIGH(1, 1, i0 + r);
                    }
#undef WEIGH
            }
        }
    }
    for (int i = 0; i < nq; i++) {
        __m256 iv = _mm256_set1_ps(1.0f / sum[i]);
        const float *row = acc + (int64_t)i * head_dim;
        int32_t d = 0;
        for (; d + 8 <= head_dim; d += 8) _mm256_storeu_ps(out[i] + d, _mm256_mul_ps(_mm256_loadu_ps(row + d), iv));
        if (d < head_dim) store_tail(out[i] + d, _mm256_mul_ps(load_tail(row + d, head_dim - d), iv), head_dim - d);
    }
}

void tlm_attn_rows_f32_avx2(float *const *out, const float *const *q, int32_t nq,
                            const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                            int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_DT_F32, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}

void tlm_attn_rows_f16_avx2(float *const *out, const float *const *q, int32_t nq,
                            const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                            int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_DT_F16, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}

void tlm_attn_rows_q8_0_avx2(float *const *out, const float *const *q, int32_t nq,
                             const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                             int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_DT_Q8_0, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}
