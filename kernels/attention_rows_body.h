/* attention_rows_body.h - attention for a block of queries that share one KV head (the query
 * heads of a GQA group, for several tokens of a prompt), written once in the vector API of
 * simd_<isa>.h and compiled per ISA by attention_rows_<isa>.c, which first defines the tile
 * shape for its register file:
 *   ROWS_SVECS  query vectors per score pass (ROWS_KTILE x ROWS_SVECS accumulators)
 *   ROWS_WVECS  value vectors per weigh pass, ROWS_WACC the accumulators a weigh pass may use
 *
 * Each key and value row is widened once per block instead of once per query, and the
 * queries sit in the lanes. The keys go by in chunks of TLM_ATTN_CHUNK (cut at multiples of
 * it), so every working array stays in cache at any length; per chunk:
 *   scores  s[j][i] = scale * (q_i . k_j): VL queries per vector, key elements broadcast;
 *   softmax down each lane, online: a new running max rescales the sum and the output
 *           accumulators by exp(old max - new max);
 *   output  acc_i += sum_j p[j][i] v_j: values in the lanes, p broadcast;
 * and out_i = acc_i / sum_i at the end. Keys outside a query's [lo, hi) weigh exactly 0 and
 * a chunk without any of its keys leaves it untouched (factor exactly 1), so a query's
 * result does not depend on its block. */
#include <math.h>

#include "kernels_impl.h"

enum {
    QVECS = TLM_ATTN_ROWS / VL, /* query vectors per block */
    KTILE = 6,                  /* keys scored per pass over the head's dimensions */
    PROWS = 6,                  /* most queries per pass over the values */
    KAHEAD = 16,                /* keys prefetched ahead of the scores */
};

/* Pulls row j of a cache (head_dim elements of `type`) into L1 (l1) or L2. */
TLM_INLINE void prefetch_row(int type, const void *base, int64_t j, int64_t stride,
                             int32_t head_dim, bool l1)
{
    const char *row = cache_row(type, base, j, stride);
    int64_t bytes = (int64_t)tlm_kv_bytes(type, (uint64_t)head_dim);
    for (int64_t o = 0; o < bytes; o += 64) {
        if (l1)
            prefetch_l1(row + o);
        else
            prefetch_l2(row + o);
    }
}

/* out[0, n) = a cache row's first n elements as float. */
TLM_INLINE void widen_row(int type, float *out, const void *row, int32_t n)
{
    int32_t i = 0;
    for (; i + VL <= n; i += VL)
        vf_store(out + i, vf_load_kv(type, row, i, vmask_all()));
    if (i < n) vf_store_m(out + i, vf_load_kv(type, row, i, vmask_n(n - i)), vmask_n(n - i));
}

/* s rows j0 .. j0 + KTILE (row r at s + r * ld) for query vectors [c0, c0 + nv) of the
 * transposed queries qt [head_dim][ld] and the widened keys kf [KTILE][head_dim]. */
TLM_INLINE void score_tile(int nv, float *s, int64_t ld, const float *qt, int c0, const float *kf,
                           int32_t head_dim, int nk, float scale)
{
    vf acc[KTILE][ROWS_SVECS];
#pragma GCC unroll 16
    for (int t = 0; t < KTILE; t++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            acc[t][c] = vf_zero();
    for (int32_t d = 0; d < head_dim; d++) {
        vf qv[ROWS_SVECS];
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            qv[c] = vf_load(qt + d * ld + VL * (c0 + c));
#pragma GCC unroll 16
        for (int t = 0; t < KTILE; t++) {
            vf kb = vf_set1(kf[t * head_dim + d]);
#pragma GCC unroll 4
            for (int c = 0; c < nv; c++)
                acc[t][c] = vf_fma(kb, qv[c], acc[t][c]);
        }
    }
    vf sc = vf_set1(scale);
    for (int t = 0; t < nk; t++)
#pragma GCC unroll 4
        for (int c = 0; c < nv; c++)
            vf_store(s + t * ld + VL * (c0 + c), vf_mul(acc[t][c], sc));
}

/* Rows i0 .. i0 + nr of the accumulators acc [.][head_dim], dims [d, d + VL nvec) (the last
 * vector cut to `tail`): scaled by alpha, then plus the weights p [keys][ld] (row 0 is key
 * a) times the values of keys [j0, j1). */
TLM_INLINE void weigh_tile(int type, int nvec, int nr, float *acc_rows, int32_t head_dim, int i0,
                           int64_t d, vmask tail, const void *v, int64_t kv_stride, int32_t a,
                           int32_t j0, int32_t j1, const float *p, int64_t ld, const float *alpha)
{
    vf acc[PROWS][ROWS_WVECS];
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++) {
        const float *row = acc_rows + (int64_t)(i0 + r) * head_dim + d;
        vf al = vf_set1(alpha[i0 + r]);
#pragma GCC unroll 8
        for (int c = 0; c < nvec; c++)
            acc[r][c] = vf_mul(vf_load_m(row + VL * c, c == nvec - 1 ? tail : vmask_all()), al);
    }
    for (int32_t j = j0; j < j1; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        vf vv[ROWS_WVECS];
#pragma GCC unroll 8
        for (int c = 0; c < nvec; c++)
            vv[c] = vf_load_kv(type, vj, d + VL * c, c == nvec - 1 ? tail : vmask_all());
        const float *pj = p + (int64_t)(j - a) * ld + i0;
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) {
            vf pb = vf_set1(pj[r]);
#pragma GCC unroll 8
            for (int c = 0; c < nvec; c++)
                acc[r][c] = vf_fma(pb, vv[c], acc[r][c]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < nr; r++)
#pragma GCC unroll 8
        for (int c = 0; c < nvec; c++)
            vf_store_m(acc_rows + (int64_t)(i0 + r) * head_dim + d + VL * c, acc[r][c],
                       c == nvec - 1 ? tail : vmask_all());
}

/* Queries per weigh pass of nvec value vectors: PROWS, or as many as ROWS_WACC allows. */
static inline int weigh_rows(int nvec)
{
    return nvec * PROWS <= ROWS_WACC ? PROWS : ROWS_WACC / nvec;
}

/* weigh_tile with the tile's shape as constants: one body per width for a full group of
 * weigh_rows(nvec) queries, and one for a single query (the rest of a block). Cases above
 * ROWS_WVECS are never taken; they repeat its body so that any width up to 8 compiles. */
TLM_INLINE void weigh_group(int type, int nvec, int nr, float *acc, int32_t head_dim, int i0,
                            int64_t d, vmask tail, const void *v, int64_t kv_stride, int32_t a,
                            int32_t j0, int32_t j1, const float *p, int64_t ld, const float *alpha)
{
#define WEIGH(N)                                                                                   \
    {                                                                                              \
        const int W = (N) < ROWS_WVECS ? (N) : ROWS_WVECS;                                         \
        if (nr == weigh_rows(W))                                                                   \
            weigh_tile(type, W, weigh_rows(W), acc, head_dim, i0, d, tail, v, kv_stride, a, j0,    \
                       j1, p, ld, alpha);                                                          \
        else                                                                                       \
            for (int r = 0; r < nr; r++)                                                           \
                weigh_tile(type, W, 1, acc, head_dim, i0 + r, d, tail, v, kv_stride, a, j0, j1, p, \
                           ld, alpha);                                                             \
        break;                                                                                     \
    }
    switch (nvec) {
    case 1:
        WEIGH(1)
    case 2:
        WEIGH(2)
    case 3:
        WEIGH(3)
    case 4:
        WEIGH(4)
    case 5:
        WEIGH(5)
    case 6:
        WEIGH(6)
    case 7:
        WEIGH(7)
    default:
        WEIGH(8)
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
        int32_t lov[VL], hiv[VL];
        for (int l = 0; l < VL; l++) {
            int i = VL * c + l;
            lov[l] = i < nq ? lo[i] : 0; /* padding lanes see no key */
            hiv[l] = i < nq ? hi[i] : 0;
        }
        vi vlo = vi_load(lov), vhi = vi_load(hiv);
        vf cm = vf_set1(-INFINITY);
        for (int32_t j = a; j < b; j++)
            cm = vf_max_where(cm, vb_in(vlo, vhi, j), vf_load(s + (j - a) * ld + VL * c));
        vf old = vf_load(mx + VL * c), now = vf_max(old, cm);
        vf al = vf_select(vb_gt(now, old), vf_exp(vf_sub(old, now)), vf_set1(1.0f));
        vf total = vf_zero();
        for (int32_t j = a; j < b; j++) {
            float *row = s + (j - a) * ld + VL * c;
            vf e = vf_keep(vb_in(vlo, vhi, j), vf_exp(vf_sub(vf_load(row), now)));
            vf_store(row, e);
            total = vf_add(total, e);
        }
        vf_store(mx + VL * c, now);
        vf_store(alpha + VL * c, al);
        vf_store(sum + VL * c, vf_fma(vf_load(sum + VL * c), al, total));
    }
}

TLM_INLINE void attn_rows(int type, float *const *out, const float *const *q, int32_t nq,
                          const int32_t *lo, const int32_t *hi, const void *k, const void *v,
                          int64_t kv_stride, int32_t head_dim, float scale, float *scratch)
{
    int nv = (nq + VL - 1) / VL;
    int64_t ld = VL * nv;
    int32_t j_base = lo[0], span = hi[0];
    for (int i = 1; i < nq; i++) {
        j_base = lo[i] < j_base ? lo[i] : j_base;
        span = hi[i] > span ? hi[i] : span;
    }
    float *qt = scratch;               /* [head_dim][ld] queries, transposed */
    float *acc = qt + head_dim * ld;   /* [ld][head_dim] output accumulators */
    float *kf = acc + head_dim * ld;   /* [KTILE][head_dim] widened keys */
    float *mx = kf + KTILE * head_dim; /* [ld] running max */
    float *sum = mx + ld;              /* [ld] running sum */
    float *alpha = sum + ld;           /* [ld] this chunk's rescale factor */
    float *s = alpha + ld;             /* [TLM_ATTN_CHUNK][ld] scores, then weights */
    for (int32_t d = 0; d < head_dim; d++)
        for (int64_t i = 0; i < ld; i++)
            qt[d * ld + i] = i < nq ? q[i][d] : 0.0f;
    for (int64_t i = 0; i < ld; i++) {
        mx[i] = -INFINITY;
        sum[i] = 0.0f;
    }
    for (int64_t i = 0; i < ld * head_dim; i++)
        acc[i] = 0.0f;

    for (int32_t c0 = j_base - j_base % TLM_ATTN_CHUNK; c0 < span; c0 += TLM_ATTN_CHUNK) {
        int32_t a = c0 > j_base ? c0 : j_base;
        int32_t b = span - c0 < TLM_ATTN_CHUNK ? span : c0 + TLM_ATTN_CHUNK;
        for (int32_t j0 = a; j0 < b; j0 += KTILE) {
            int nk = b - j0 < KTILE ? b - j0 : KTILE;
            /* rows are a KV width apart, too far for the hardware prefetcher: keys a few
             * tiles ahead, and this chunk's values for the pass after the softmax */
            for (int t = 0; t < nk; t++) {
                if (j0 + t + KAHEAD < span)
                    prefetch_row(type, k, j0 + t + KAHEAD, kv_stride, head_dim, true);
                prefetch_row(type, v, j0 + t, kv_stride, head_dim, false);
            }
            for (int t = 0; t < KTILE; t++) {
                if (t < nk)
                    widen_row(type, kf + t * head_dim, cache_row(type, k, j0 + t, kv_stride),
                              head_dim);
                else
                    for (int32_t d = 0; d < head_dim; d++)
                        kf[t * head_dim + d] = 0.0f;
            }
            float *st = s + (int64_t)(j0 - a) * ld;
            for (int c0q = 0; c0q < nv; c0q += ROWS_SVECS) {
                int n = nv - c0q < ROWS_SVECS ? nv - c0q : ROWS_SVECS;
                switch (n) { /* one body per width: the accumulators stay in registers */
                case 1:
                    score_tile(1, st, ld, qt, c0q, kf, head_dim, nk, scale);
                    break;
                case 2:
                    score_tile(2 < ROWS_SVECS ? 2 : ROWS_SVECS, st, ld, qt, c0q, kf, head_dim, nk,
                               scale);
                    break;
                case 3:
                    score_tile(3 < ROWS_SVECS ? 3 : ROWS_SVECS, st, ld, qt, c0q, kf, head_dim, nk,
                               scale);
                    break;
                default:
                    score_tile(ROWS_SVECS, st, ld, qt, c0q, kf, head_dim, nk, scale);
                }
            }
        }
        softmax_chunk(s, ld, nv, lo, hi, nq, a, b, mx, sum, alpha);

        for (int64_t d = 0; d < head_dim; d += VL * ROWS_WVECS) {
            int64_t left = head_dim - d;
            int nvec = left >= VL * ROWS_WVECS ? ROWS_WVECS : (int)((left + VL - 1) / VL);
            vmask tail = vmask_n(left >= VL * nvec ? VL : left - VL * (nvec - 1));
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
                weigh_group(type, nvec, nr, acc, head_dim, i0, d, tail, v, kv_stride, a, j0, j1, s,
                            ld, alpha);
            }
        }
    }
    for (int i = 0; i < nq; i++) {
        vf iv = vf_set1(1.0f / sum[i]);
        const float *row = acc + (int64_t)i * head_dim;
        int32_t d = 0;
        for (; d + VL <= head_dim; d += VL)
            vf_store(out[i] + d, vf_mul(vf_load(row + d), iv));
        if (d < head_dim) {
            vmask m = vmask_n(head_dim - d);
            vf_store_m(out[i] + d, vf_mul(vf_load_m(row + d, m), iv), m);
        }
    }
}

#define ATTN_ROWS_SLOT(name, type)                                                                 \
    void TLM_ISA_FN(name)(float *const *out, const float *const *q, int32_t nq, const int32_t *lo, \
                          const int32_t *hi, const void *k, const void *v, int64_t kv_stride,      \
                          int32_t head_dim, float scale, float *scratch)                           \
    {                                                                                              \
        attn_rows(type, out, q, nq, lo, hi, k, v, kv_stride, head_dim, scale, scratch);            \
    }

ATTN_ROWS_SLOT(tlm_attn_rows_f32, TLM_DT_F32)
ATTN_ROWS_SLOT(tlm_attn_rows_f16, TLM_DT_F16)
ATTN_ROWS_SLOT(tlm_attn_rows_q8_0, TLM_DT_Q8_0)
