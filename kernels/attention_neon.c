/* attention_neon.c - one attention head for one query with NEON, as attention_avx2.c: scores
 * four keys at a time, a vectorised softmax, then the weighted sum of values with the output
 * in registers (16 vectors of 4: half of AArch64's 32 registers). Every key's score goes
 * through the same arithmetic wherever it falls in a group of four. Keys and values come from
 * an F32, F16 or Q8_0 cache, widened to float as they are loaded. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_neon.h"

enum { VAL_VECS = 16 }; /* output vectors kept in registers per pass over the values */

/* scores[j + i] = scale * (q . k_{j+i}) for the i < n_valid of 4 keys; the missing keys
 * repeat the last one so that every score takes the same path. */
TLM_INLINE void score4(int type, float *scores, const float *q, const void *k, int64_t kv_stride,
                       int32_t j, int n_valid, int32_t head_dim, float scale)
{
    const void *kj[4];
    for (int i = 0; i < 4; i++)
        kj[i] = cache_row(type, k, j + (i < n_valid ? i : n_valid - 1), kv_stride);
    vf s[4] = {vf_zero(), vf_zero(), vf_zero(), vf_zero()};
    int32_t d = 0;
    for (; d + VL <= head_dim; d += VL) {
        vf qv = vf_load(q + d);
#pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            s[i] = vf_fma(qv, load_kv(type, kj[i], d), s[i]);
    }
    if (d < head_dim) {
        vf qv = load_tail(q + d, head_dim - d);
#pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            s[i] = vf_fma(qv, load_row_tail(type, kj[i], d, head_dim - d), s[i]);
    }
    for (int i = 0; i < n_valid; i++)
        scores[j + i] = hsum(s[i]) * scale;
}

/* The largest of s[0, n), n >= 1. */
static float max_of(const float *s, int32_t n)
{
    vf mx = vf_set1(-INFINITY);
    int32_t j = 0;
    for (; j + VL <= n; j += VL)
        mx = vf_max(mx, vf_load(s + j));
    float max = vmaxvq_f32(mx);
    for (; j < n; j++)
        max = s[j] > max ? s[j] : max;
    return max;
}

/* out[0, 4 * nvec) (the last vector cut to `tail` floats) = inv * sum_j p_j v_j[...]. */
TLM_INLINE void weigh_values(int type, int nvec, float *out, const void *v, int64_t d,
                             int64_t kv_stride, int32_t n_keys, const float *p, int tail, float inv)
{
    vf acc[VAL_VECS];
#pragma GCC unroll 16
    for (int c = 0; c < nvec; c++)
        acc[c] = vf_zero();
    for (int32_t j = 0; j < n_keys; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        vf pj = vf_set1(p[j]);
#pragma GCC unroll 16
        for (int c = 0; c < nvec - 1; c++)
            acc[c] = vf_fma(pj, load_kv(type, vj, d + VL * c), acc[c]);
        int64_t at = d + VL * (nvec - 1); /* Q8_0 heads are whole blocks: no tail */
        vf last = tail == VL || type == TLM_DT_Q8_0 ? load_kv(type, vj, at)
                                                    : load_row_tail(type, vj, at, tail);
        acc[nvec - 1] = vf_fma(pj, last, acc[nvec - 1]);
    }
    vf iv = vf_set1(inv);
#pragma GCC unroll 16
    for (int c = 0; c < nvec - 1; c++)
        vf_store(out + VL * c, vf_mul(acc[c], iv));
    store_tail(out + VL * (nvec - 1), vf_mul(acc[nvec - 1], iv), tail);
}

TLM_INLINE void attn_head(int type, float *out, const float *q, const void *k, const void *v,
                          int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                          float *scores)
{
    for (int32_t j = 0; j < n_keys; j += 4)
        score4(type, scores, q, k, kv_stride, j, n_keys - j < 4 ? n_keys - j : 4, head_dim, scale);

    /* subtract the max so exp() cannot overflow; the largest weight becomes exactly 1 */
    float max = max_of(scores, n_keys);
    vf mv = vf_set1(max), sum = vf_zero();
    static const int32_t lane[VL] = {0, 1, 2, 3};
    for (int32_t j = 0; j < n_keys; j += VL) {
        int32_t m = n_keys - j < VL ? n_keys - j : VL;
        vf e = exp128(vf_sub(load_tail(scores + j, m), mv));
        store_tail(scores + j, e, m);
        sum = vf_add(sum, vf_keep(vcgtq_s32(vdupq_n_s32(m), vi_load(lane)), e));
    }
    float inv = 1.0f / hsum(sum);

    for (int32_t d = 0; d < head_dim; d += VL * VAL_VECS) {
        int32_t left = head_dim - d;
        int nvec = left >= VL * VAL_VECS ? VAL_VECS : (left + VL - 1) / VL;
        int tail = left >= VL * nvec ? VL : left - VL * (nvec - 1);
        switch (nvec) { /* one specialised body per width, accumulators in registers */
#define WIDTH(n)                                                                                   \
    case n: weigh_values(type, n, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
            WIDTH(1) WIDTH(2) WIDTH(3) WIDTH(4) WIDTH(5) WIDTH(6) WIDTH(7) WIDTH(8)
            WIDTH(9) WIDTH(10) WIDTH(11) WIDTH(12) WIDTH(13) WIDTH(14) WIDTH(15)
#undef WIDTH
        default: weigh_values(type, VAL_VECS, out + d, v, d, kv_stride, n_keys, scores, tail, inv);
        }
    }
}

#define ATTN_HEAD(name, type)                                                                      \
    void name(float *out, const float *q, const void *k, const void *v, int64_t kv_stride,         \
              int32_t n_keys, int32_t head_dim, float scale, float *scores)                        \
    {                                                                                              \
        attn_head(type, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);                 \
    }

ATTN_HEAD(tlm_attn_head_f32_neon, TLM_DT_F32)
ATTN_HEAD(tlm_attn_head_f16_neon, TLM_DT_F16)
ATTN_HEAD(tlm_attn_head_q8_0_neon, TLM_DT_Q8_0)
