/* attention_body.h - one attention head for one query, written once in the vector API of
 * simd_<isa>.h and compiled per ISA by attention_<isa>.c: scores four keys at a time, a
 * vectorised softmax, then the weighted sum of values with the output in registers. Every
 * key's score goes through the same arithmetic wherever it falls in a group of four. Keys
 * and values come from an F32, F16 or Q8_0 cache, widened to float as they are loaded. */
#include <math.h>

#include "kernels_impl.h"

enum { VAL_VECS = 8 }; /* output vectors kept in registers per pass over the values */

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
            s[i] = vf_fma(qv, vf_load_kv(type, kj[i], d, vmask_all()), s[i]);
    }
    if (d < head_dim) {
        vmask m = vmask_n(head_dim - d);
        vf qv = vf_load_m(q + d, m);
#pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            s[i] = vf_fma(qv, vf_load_kv(type, kj[i], d, m), s[i]);
    }
    for (int i = 0; i < n_valid; i++)
        scores[j + i] = vf_hsum(s[i]) * scale;
}

/* The largest of s[0, n), n >= 1. */
static float max_of(const float *s, int32_t n)
{
    vf mx = vf_set1(-INFINITY);
    int32_t j = 0;
    for (; j + VL <= n; j += VL)
        mx = vf_max(mx, vf_load(s + j));
    float max = vf_hmax(mx);
    for (; j < n; j++)
        max = s[j] > max ? s[j] : max;
    return max;
}

/* out[0, VL * nvec) (the last vector cut to `tail` lanes) = inv * sum_j p_j v_j[...]. */
TLM_INLINE void weigh_values(int type, int nvec, float *out, const void *v, int64_t d,
                             int64_t kv_stride, int32_t n_keys, const float *p, vmask tail,
                             float inv)
{
    vf acc[VAL_VECS];
#pragma GCC unroll 16
    for (int c = 0; c < nvec; c++)
        acc[c] = vf_zero();
    for (int32_t j = 0; j < n_keys; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        vf pj = vf_set1(p[j]);
#pragma GCC unroll 16
        for (int c = 0; c < nvec; c++) {
            vmask m = c == nvec - 1 ? tail : vmask_all();
            acc[c] = vf_fma(pj, vf_load_kv(type, vj, d + VL * c, m), acc[c]);
        }
    }
    vf iv = vf_set1(inv);
#pragma GCC unroll 16
    for (int c = 0; c < nvec; c++)
        vf_store_m(out + VL * c, vf_mul(acc[c], iv), c == nvec - 1 ? tail : vmask_all());
}

TLM_INLINE void attn_head(int type, float *out, const float *q, const void *k, const void *v,
                          int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                          float *scores)
{
    for (int32_t j = 0; j < n_keys; j += 4)
        score4(type, scores, q, k, kv_stride, j, n_keys - j < 4 ? n_keys - j : 4, head_dim, scale);

    /* subtract the max so exp() cannot overflow; the largest weight becomes exactly 1 */
    vf mv = vf_set1(max_of(scores, n_keys)), sum = vf_zero();
    for (int32_t j = 0; j < n_keys; j += VL) {
        vmask m = vmask_n(n_keys - j < VL ? n_keys - j : VL);
        vf e = vf_exp(vf_sub(vf_load_m(scores + j, m), mv));
        vf_store_m(scores + j, e, m);
        sum = vf_add(sum, vf_keep_m(m, e)); /* lanes past n_keys add nothing */
    }
    float inv = 1.0f / vf_hsum(sum);

    for (int32_t d = 0; d < head_dim; d += VL * VAL_VECS) {
        int32_t left = head_dim - d;
        int nvec = left >= VL * VAL_VECS ? VAL_VECS : (left + VL - 1) / VL;
        vmask tail = vmask_n(left >= VL * nvec ? VL : left - VL * (nvec - 1));
        /* clang-format off */
        switch (nvec) { /* one specialised body per width, accumulators in registers */
        case 1: weigh_values(type, 1, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        case 2: weigh_values(type, 2, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        case 3: weigh_values(type, 3, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        case 4: weigh_values(type, 4, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        case 5: weigh_values(type, 5, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        case 6: weigh_values(type, 6, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        case 7: weigh_values(type, 7, out + d, v, d, kv_stride, n_keys, scores, tail, inv); break;
        default: weigh_values(type, VAL_VECS, out + d, v, d, kv_stride, n_keys, scores, tail, inv);
        }
        /* clang-format on */
    }
}

#define ATTN_HEAD_SLOT(name, type)                                                                 \
    void TLM_ISA_FN(name)(float *out, const float *q, const void *k, const void *v,                \
                          int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,        \
                          float *scores)                                                           \
    {                                                                                              \
        attn_head(type, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);                 \
    }

ATTN_HEAD_SLOT(tlm_attn_head_f32, TLM_DT_F32)
ATTN_HEAD_SLOT(tlm_attn_head_f16, TLM_DT_F16)
ATTN_HEAD_SLOT(tlm_attn_head_q8_0, TLM_DT_Q8_0)
