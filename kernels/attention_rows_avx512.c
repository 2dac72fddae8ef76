/* attention_rows_avx512.c - attention for a block of queries that share one KV head (the
 * query heads of a GQA group, for several tokens of a prompt). Each key and value row is
 * widened once per block instead of once per query, and the queries sit in the lanes. The
 * keys go by in chunks of TLM_ATTN_CHUNK (cut at multiples of it), so every working array
 * stays in cache at any length; per chunk:
 *   scores  s[j][i] = scale * (q_i . k_j): 16 queries per vector, key elements broadcast;
 *   softmax down each lane, online: a new running max rescales the sum and the output
 *           accumulators by exp(old max - new max);
 *   output  acc_i += sum_j p[j][i] v_j: values in the lanes, p broadcast;
 * and out_i = acc_i / sum_i at the end. Keys outside a query's [lo, hi) weigh exactly 0 and
 * a chunk without any of its keys leaves it untouched (factor exactly 1), so a query's
 * result does not depend on its block. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx512.h"

enum {
    QVECS = TLM_ATTN_ROWS / 16, /* query vectors per block */
    KTILE = 6,                  /* keys scored per pass over the head's dimensions */
    WVECS = 8,                  /* value vectors per pass (128 dimensions) */
    PROWS = 6,                  /* most queries per pass over the values */
    KAHEAD = 16,                /* keys prefetched ahead of the scores */
};

/* Pulls row j of a cache (head_dim elements of `type`) into L1 (l1) or L2. */
TLM_INLINE void prefetch_row(int type, const void *base, int64_t j, int64_t stride, int32_t head_dim,
                             bool l1)
{
    const char *row = cache_row(type, base, j, stride);
    int64_t bytes = (int64_t)tlm_kv_bytes(type, (uint64_t)head_dim);
    for (int64_t o = 0; o < bytes; o += 64) {
        if (l1) _mm_prefetch(row + o, _MM_HINT_T0);
        else _mm_prefetch(row + o, _MM_HINT_T1);
    }
}

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

/* Rows i0 .. i0 + nr of the accumulators acc [.][head_dim], dims [d, d + 16 nvec) (the last
 * vector cut to `tail`): scaled by alpha, then plus the weights p [keys][ld] (row 0 is key
 * a) times the values of keys [j0, j1). */
TLM_INLINE void weigh_tile(int type, int nvec, int nr, float *acc_rows, int32_t head_dim, int i0,
                           int64_t d, __mmask16 tail, const void *v, int64_t kv_stride, int32_t a,
                           int32_t j0, int32_t j1, const float *p, int64_t ld, const float *alpha)
{
    __m512 acc[PROWS][WVECS];
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++) {
        const float *row = acc_rows + (int64_t)(i0 + r) * head_dim + d;
        __m512 al = _mm512_set1_ps(alpha[i0 + r]);
#pragma GCC unroll 8
        for (int c = 0; c < nvec; c++)
            acc[r][c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(c == nvec - 1 ? tail : (__mmask16)0xffff,
                                                            row + 16 * c), al);
    }
    for (int32_t j = j0; j < j1; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        __m512 vv[WVECS];
#pragma GCC unroll 8
        for (int c = 0; c < nvec; c++) {
            __mmask16 m = c == nvec - 1 ? tail : (__mmask16)0xffff;
            vv[c] = load_cache(type, vj, d + 16 * c, m);
        }
        const float *pj = p + (int64_t)(j - a) * ld + i0;
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            __m512 pb = _mm512_set1_ps(pj[r]);
#pragma GCC unroll 8
            for (int c = 0; c < nvec; c++) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 8
        for (int c = 0; c < nvec; c++)
            _mm512_mask_storeu_ps(acc_rows + (int64_t)(i0 + r) * head_dim + d + 16 * c,
                                  c == nvec - 1 ? tail : (__mmask16)0xffff, acc[r][c]);
}

/* Queries per weigh pass of nvec value vectors: about 24 accumulators. */
static inline int weigh_rows(int nvec) { return nvec <= 4 ? PROWS : 24 / nvec; }

/* weigh_tile with the tile's shape as constants: one body per width for a full group of
 * weigh_rows(nvec) queries, and one for a single query (the rest of a block). */
TLM_INLINE void weigh_group(int type, int nvec, int nr, float *acc, int32_t head_dim, int i0,
                            int64_t d, __mmask16 tail, const void *v, int64_t kv_stride, int32_t a,
                            int32_t j0, int32_t j1, const float *p, int64_t ld, const float *alpha)
{
#define WEIGH(W)                                                                                   \
    if (nr == weigh_rows(W))                                                                       \
        weigh_tile(type, W, weigh_rows(W), acc, head_dim, i0, d, tail, v, kv_stride, a, j0, j1, p, \
                   ld, alpha);                                                                     \
    else                                                                                           \
        for (int r = 0; r < nr; r++)                                                               \
            weigh_tile(type, W, 1, acc, head_dim, i0 + r, d, tail, v, kv_stride, a, j0, j1, p, ld, \
                       alpha);                                                                     \
    break;
    switch (nvec) {
    case 1: WEIGH(1)
    case 2: WEIGH(2)
    case 3: WEIGH(3)
    case 4: WEIGH(4)
    case 5: WEIGH(5)
    case 6: WEIGH(6)
    case 7: WEIGH(7)
    default: WEIGH(8)
    }
#undef WEIGH
}

/* Online softmax over the chunk's keys [a, b) (rows of s), in place: p = exp(s - max) for
 * the keys each lane's query sees, 0 elsewhere, with max the running max mx of everything
 * seen so far; alpha = the factor for what came before (exactly 1 when the max holds),
 * and the running sums updated. */
static void softmax_chunk(float *s, int64_t ld, int nv, const int32_t *lo, const int32_t *hi,
                          int32_t nq, int32_t a, int32_t b, float *mx, float *sum, float *alpha)
{
    for (int c = 0; c < nv; c++) {
        int32_t lov[16], hiv[16];
        for (int l = 0; l < 16; l++) {
            int i = 16 * c + l;
            lov[l] = i < nq ? lo[i] : 0; /* padding lanes see no key */
            hiv[l] = i < nq ? hi[i] : 0;
        }
        __m512i vlo = _mm512_loadu_si512(lov), vhi = _mm512_loadu_si512(hiv);
        __m512 cm = _mm512_set1_ps(-INFINITY);
        for (int32_t j = a; j < b; j++) {
            __m512i vj = _mm512_set1_epi32(j);
            __mmask16 m = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmpgt_epi32_mask(vhi, vj);
            cm = _mm512_mask_max_ps(cm, m, cm, _mm512_loadu_ps(s + (j - a) * ld + 16 * c));
        }
        __m512 old = _mm512_loadu_ps(mx + 16 * c), now = _mm512_max_ps(old, cm);
        __mmask16 grew = _mm512_cmp_ps_mask(now, old, _CMP_GT_OQ);
        __m512 al = _mm512_mask_blend_ps(grew, _mm512_set1_ps(1.0f), exp512(_mm512_sub_ps(old, now)));
        __m512 total = _mm512_setzero_ps();
        for (int32_t j = a; j < b; j++) {
            __m512i vj = _mm512_set1_epi32(j);
            __mmask16 m = _mm512_cmple_epi32_mask(vlo, vj) & _mm512_cmpgt_epi32_mask(vhi, vj);
            float *row = s + (j - a) * ld + 16 * c;
            __m512 e = _mm512_maskz_mov_ps(m, exp512(_mm512_sub_ps(_mm512_loadu_ps(row), now)));
            _mm512_storeu_ps(row, e);
            total = _mm512_add_ps(total, e);
        }
        _mm512_storeu_ps(mx + 16 * c, now);
        _mm512_storeu_ps(alpha + 16 * c, al);
        _mm512_storeu_ps(sum + 16 * c, _mm512_fmadd_ps(_mm512_loadu_ps(sum + 16 * c), al, total));
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
            /* rows are a KV width apart, too far for the hardware prefetcher: keys a few
             * tiles ahead, and this chunk's values for the pass after the softmax */
            for (int t = 0; t < nk; t++) {
                if (j0 + t + KAHEAD < span) prefetch_row(type, k, j0 + t + KAHEAD, kv_stride, head_dim, true);
                prefetch_row(type, v, j0 + t, kv_stride, head_dim, false);
            }
            for (int t = 0; t < KTILE; t++) {
                if (t < nk) widen_row(type, kf + t * head_dim, cache_row(type, k, j0 + t, kv_stride), head_dim);
                else for (int32_t d = 0; d < head_dim; d++) kf[t * head_dim + d] = 0.0f;
            }
            float *st = s + (int64_t)(j0 - a) * ld;
            switch (nv) { /* one body per width: the accumulators stay in registers */
            case 1: score_tile(1, st, ld, qt, kf, head_dim, nk, scale); break;
            case 2: score_tile(2, st, ld, qt, kf, head_dim, nk, scale); break;
            case 3: score_tile(3, st, ld, qt, kf, head_dim, nk, scale); break;
            default: score_tile(4, st, ld, qt, kf, head_dim, nk, scale);
            }
        }
        softmax_chunk(s, ld, nv, lo, hi, nq, a, b, mx, sum, alpha);

        for (int64_t d = 0; d < head_dim; d += 16 * WVECS) {
            int64_t left = head_dim - d;
            int nvec = left >= 16 * WVECS ? WVECS : (int)((left + 15) / 16);
            __mmask16 tail = mask16(left >= 16 * nvec ? 16 : left - 16 * (nvec - 1));
            int rows = weigh_rows(nvec);
            for (int i0 = 0; i0 < nq; i0 += rows) {
                int nr = nq - i0 < rows ? nq - i0 : rows;
                int32_t j0 = lo[i0], j1 = hi[i0]; /* the keys this group sees, within the chunk */
                for (int r = 1; r < nr; r++) {
                    j0 = lo[i0 + r] < j0 ? lo[i0 + r] : j0;
                    j1 = hi[i0 + r] > j1 ? hi[i0 + r] : j1;
                }
                j0 = j0 > a ? j0 : a;
                j1 = j1 < b ? j1 : b;
                j1 = j1 > j0 ? j1 : j0;
                weigh_group(type, nvec, nr, acc, head_dim, i0, d, tail, v, kv_stride, a, j0, j1, s, ld, alpha);
            }
        }
    }
    for (int i = 0; i < nq; i++) {
        __m512 iv = _mm512_set1_ps(1.0f / sum[i]);
        for (int32_t d = 0; d < head_dim; d += 16) {
            __mmask16 m = mask16(head_dim - d < 16 ? head_dim - d : 16);
            _mm512_mask_storeu_ps(out[i] + d, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, acc + (int64_t)i * head_dim + d), iv));
        }
    }
}

void tlm_attn_rows_f32_avx512(float *const *out, const float *const *q, int32_t nq,
                              const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                              int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_DT_F32, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}

void tlm_attn_rows_f16_avx512(float *const *out, const float *const *q, int32_t nq,
                              const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                              int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_DT_F16, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}

void tlm_attn_rows_q8_0_avx512(float *const *out, const float *const *q, int32_t nq,
                               const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                               int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    attn_rows(TLM_DT_Q8_0, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);
}
