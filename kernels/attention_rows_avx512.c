/* attention_rows_avx512.c - attention for a block of queries that share one KV head (the
 * query heads of a GQA group, for several tokens of a prompt). Each key and value row is
 * widened once per block instead of once per query, and the queries sit in the lanes:
 *   scores  s[j][i] = scale * (q_i . k_j): 16 queries per vector, key elements broadcast;
 *   softmax down each lane over the keys the query sees;
 *   output  out_i = sum_j p[j][i] v_j / sum_j p[j][i]: values in the lanes, p broadcast.
 * Every query runs over the block's keys in ascending order; keys outside its [lo, hi) weigh
 * exactly 0 and add nothing, so a query's result does not depend on its block. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx512.h"

enum {
    QVECS = TLM_ATTN_ROWS / 16, /* query vectors per block */
    KTILE = 4,                  /* keys scored per pass over the head's dimensions */
    PROWS = 6,                  /* queries per pass over the values (6 x 4 accumulators) */
};

/* out[0, n) = a cache row's first n elements as float (cache_row, load_cache: simd_avx512.h) */
TLM_INLINE void widen_row(int type, float *out, const void *row, int32_t n)
{
    for (int32_t i = 0; i < n; i += 16) {
        __mmask16 m = mask16(n - i < 16 ? n - i : 16);
        _mm512_mask_storeu_ps(out + i, m, load_cache(type, row, i, m));
    }
}

/* s rows j0 .. j0 + KTILE (row r at s + r * ld) for nv query vectors from the transposed
 * queries qt [head_dim][ld] and the widened keys kf [KTILE][head_dim]. */
TLM_INLINE void score_tile(int nv, float *s, int64_t ld, const float *qt, const float *kf,
                           int32_t head_dim, int nk, float scale)
{
    __m512 acc[KTILE][QVECS];
#pragma GCC unroll 16
    for (int t = 0; t < KTILE; t++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++) acc[t][c] = _mm512_setzero_ps();
    for (int32_t d = 0; d < head_dim; d++) {
        __m512 qv[QVECS];
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++) qv[c] = _mm512_loadu_ps(qt + d * ld + 16 * c);
#pragma GCC unroll 16
        for (int t = 0; t < KTILE; t++) {
            __m512 kb = _mm512_set1_ps(kf[t * head_dim + d]);
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++) acc[t][c] = _mm512_fmadd_ps(kb, qv[c], acc[t][c]);
        }
    }
    __m512 sc = _mm512_set1_ps(scale);
    for (int t = 0; t < nk; t++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++) _mm512_storeu_ps(s + t * ld + 16 * c, _mm512_mul_ps(acc[t][c], sc));
}

/* out rows i0 .. i0 + nr, dims [d, d + 16 nvec) (last vector to `tail` lanes), from the
 * weights p [keys][ld] (row 0 is key j_base) of keys [j0, j1). */
TLM_INLINE void weigh_tile(int type, int nvec, float *const *out, int i0, int nr, int64_t d,
                           __mmask16 tail, const void *v, int64_t kv_stride, int32_t j_base,
                           int32_t j0, int32_t j1, const float *p, int64_t ld, const float *inv)
{
    __m512 acc[PROWS][4];
#pragma GCC unroll 8
    for (int r = 0; r < PROWS; r++)
#pragma GCC unroll 4
        for (int c = 0; c < nvec; c++) acc[r][c] = _mm512_setzero_ps();
    for (int32_t j = j0; j < j1; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        __m512 vv[4];
#pragma GCC unroll 4
        for (int c = 0; c < nvec; c++) {
            __mmask16 m = c == nvec - 1 ? tail : (__mmask16)0xffff;
            vv[c] = load_cache(type, vj, d + 16 * c, m);
        }
        const float *pj = p + (int64_t)(j - j_base) * ld + i0;
#pragma GCC unroll 8
        for (int r = 0; r < PROWS; r++) {
            if (r >= nr) break;
            __m512 pb = _mm512_set1_ps(pj[r]);
#pragma GCC unroll 4
            for (int c = 0; c < nvec; c++) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < nr; r++) {
        __m512 iv = _mm512_set1_ps(inv[i0 + r]);
#pragma GCC unroll 4
        for (int c = 0; c < nvec; c++)
            _mm512_mask_storeu_ps(out[i0 + r] + d + 16 * c, c == nvec - 1 ? tail : (__mmask16)0xffff,
                                  _mm512_mul_ps(acc[r][c], iv));
    }
}

/* In place over s: p = exp(s - max) for the keys each lane's query sees, 0 elsewhere; the
 * reciprocal of each query's sum to inv. */
static void softmax_lanes(float *s, int64_t ld, int nv, const int32_t *lo, const int32_t *hi,
                          int32_t nq, int32_t j_base, int32_t span, float *inv)
{
    for (int c = 0; c < nv; c++) {
        int32_t lov[16], hiv[16];
        for (int l = 0; l < 16; l++) {
            int i = 16 * c + l;
            lov[l] = i < nq ? lo[i] : 0; /* padding lanes see no key */
            hiv[l] = i < nq ? hi[i] : 0;
        }
        __m512i vlo = _mm512_loadu_si512(lov), vhi = _mm512_loadu_si512(hiv);
        __m512 mx = _mm512_set1_ps(-INFINITY);
        for (int32_t j = j_base; j < span; j++) {
            __m512i vj = _mm512_set1_epi32(j);
            __mmask16 m = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmpgt_epi32_mask(vhi, vj);
            mx = _mm512_mask_max_ps(mx, m, mx, _mm512_loadu_ps(s + (j - j_base) * ld + 16 * c));
        }
        __m512 sum = _mm512_setzero_ps();
        for (int32_t j = j_base; j < span; j++) {
            __m512i vj = _mm512_set1_epi32(j);
            __mmask16 m = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmpgt_epi32_mask(vhi, vj);
            float *row = s + (j - j_base) * ld + 16 * c;
            __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_loadu_ps(row), mx)));
            _mm512_storeu_ps(row, e);
            sum = _mm512_add_ps(sum, e);
        }
        _mm512_storeu_ps(inv + 16 * c, _mm512_div_ps(_mm512_set1_ps(1.0f), sum));
    }
}

TLM_INLINE void attn_rows(int type, float *const *out, const float *const *q, int32_t nq,
                          const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                          int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    int nv = (nq + 15) / 16;
    int64_t ld = 16 * nv;
    int32_t j_base = lo[0], span = hi[0];
    for (int i = 1; i < nq; i++) {
        j_base = lo[i] < j_base ? lo[i] : j_base;
        span = hi[i] > span ? hi[i] : span;
    }
    float *qt = scratch;                 /* [head_dim][ld] queries, transposed */
    float *kf = qt + head_dim * ld;      /* [KTILE][head_dim] widened keys */
    float *inv = kf + KTILE * head_dim;  /* [ld] */
    float *s = inv + ld;                 /* [span - j_base][ld] scores, then weights */
    for (int32_t d = 0; d < head_dim; d++)
        for (int64_t i = 0; i < ld; i++) qt[d * ld + i] = i < nq ? q[i][d] : 0.0f;

    for (int32_t j0 = j_base; j0 < span; j0 += KTILE) {
        int nk = span - j0 < KTILE ? span - j0 : KTILE;
        for (int t = 0; t < KTILE; t++) {
            if (t < nk) widen_row(type, kf + t * head_dim, cache_row(type, k, j0 + t, kv_stride), head_dim);
            else for (int32_t d = 0; d < head_dim; d++) kf[t * head_dim + d] = 0.0f;
        }
        float *st = s + (int64_t)(j0 - j_base) * ld;
        switch (nv) { /* one body per width: the accumulators stay in registers */
        case 1: score_tile(1, st, ld, qt, kf, head_dim, nk, scale); break;
        case 2: score_tile(2, st, ld, qt, kf, head_dim, nk, scale); break;
        case 3: score_tile(3, st, ld, qt, kf, head_dim, nk, scale); break;
        default: score_tile(4, st, ld, qt, kf, head_dim, nk, scale);
        }
    }
    softmax_lanes(s, ld, nv, lo, hi, nq, j_base, span, inv);

    for (int64_t d = 0; d < head_dim; d += 64) {
        int64_t left = head_dim - d;
        int nvec = left >= 64 ? 4 : (int)((left + 15) / 16);
        __mmask16 tail = mask16(left >= 16 * nvec ? 16 : left - 16 * (nvec - 1));
        for (int i0 = 0; i0 < nq; i0 += PROWS) {
            int nr = nq - i0 < PROWS ? nq - i0 : PROWS;
            int32_t j0 = lo[i0], j1 = hi[i0];
            for (int r = 1; r < nr; r++) {
                j0 = lo[i0 + r] < j0 ? lo[i0 + r] : j0;
                j1 = hi[i0 + r] > j1 ? hi[i0 + r] : j1;
            }
            switch (nvec) {
            case 1: weigh_tile(type, 1, out, i0, nr, d, tail, v, kv_stride, j_base, j0, j1, s, ld, inv); break;
            case 2: weigh_tile(type, 2, out, i0, nr, d, tail, v, kv_stride, j_base, j0, j1, s, ld, inv); break;
            case 3: weigh_tile(type, 3, out, i0, nr, d, tail, v, kv_stride, j_base, j0, j1, s, ld, inv); break;
            default: weigh_tile(type, 4, out, i0, nr, d, tail, v, kv_stride, j_base, j0, j1, s, ld, inv);
            }
        }
    }
}

void tlm_attn_rows_f32_avx512(float *const *out, const float *const *q, int32_t nq,
                              const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                              int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_TYPE_F32, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}

void tlm_attn_rows_f16_avx512(float *const *out, const float *const *q, int32_t nq,
                              const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                              int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_TYPE_F16, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}

void tlm_attn_rows_q8_0_avx512(float *const *out, const float *const *q, int32_t nq,
                               const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                               int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_TYPE_Q8_0, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}
