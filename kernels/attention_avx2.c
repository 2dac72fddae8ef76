/* attention_avx2.c - one attention head for one query with AVX2: scores four keys at a time,
 * a vectorised softmax, then the weighted sum of values with the output in registers.
 * Every key's score goes through the same arithmetic wherever it falls in a group of four.
 * Keys and values come from an F32, F16 or Q8_0 cache, widened to float as they are loaded. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx2.h"

enum { VAL_VECS = 8 }; /* output vectors kept in registers per pass over the values */

/* Lanes [0, n) of 8 set, as a float mask for blendv/and. */
TLM_INLINE __m256 keep_lanes(int64_t n)
{
    return _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
}

/* cache_row and load_kv: simd_avx2.h */

/* scores[j + i] = scale * (q . k_{j+i}) for the i < n_valid of 4 keys; the missing keys
 * repeat the last one so that every score takes the same path. */

TLM_INLINE void score4(int type, float *scores, const float *q, const void *k, int64_t kv_stride,
                       int32_t j, int n_valid, int32_t head_dim, float scale)
{
    const void *kj[4];
    for (int i = 0; i < 4; i++)
        kj[i] = cache_row(type, k, j + (i < n_valid ? i : n_valid - 1), kv_stride);
    __m256 s[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
    int32_t d = 0;
    for (; d + 8 <= head_dim; d += 8) {
        __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            s[i] = _mm256_fmadd_ps(qv, load_kv(type, kj[i], d), s[i]);
    }
    if (d < head_dim) {
        __m256 qv = load_tail(q + d, head_dim - d);
#pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            s[i] = _mm256_fmadd_ps(qv, load_row_tail(type, kj[i], d, head_dim - d), s[i]);
    }
    for (int i = 0; i < n_valid; i++)
        scores[j + i] = hsum(s[i]) * scale;
}

/* The largest of s[0, n), n >= 1. */
static float max_of(const float *s, int32_t n)
{
    __m256 mx = _mm256_set1_ps(-INFINITY);
    int32_t j = 0;
    for (; j + 8 <= n; j += 8)
        mx = _mm256_max_ps(mx, _mm256_loadu_ps(s + j));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float max = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    for (; j < n; j++)
        max = s[j] > max ? s[j] : max;
    return max;
}

/* out[0, 8 * nvec) (the last vector cut to `tail` floats) = inv * sum_j p_j v_j[...]. */
TLM_INLINE void weigh_values(int type, int nvec, float *out, const void *v, int64_t d,
                             int64_t kv_stride, int32_t n_keys, const float *p, int tail, float inv)
{
    __m256 acc[VAL_VECS];
#pragma GCC unroll 16
    for (int c = 0; c < nvec; c++)
        acc[c] = _mm256_setzero_ps();
    for (int32_t j = 0; j < n_keys; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        __m256 pj = _mm256_set1_ps(p[j]);
#pragma GCC unroll 16
        for (int c = 0; c < nvec - 1; c++)
            acc[c] = _mm256_fmadd_ps(pj, load_kv(type, vj, d + 8 * c), acc[c]);
        int64_t at = d + 8 * (nvec - 1); /* Q8_0 heads are whole blocks: no tail */
        __m256 last = tail == 8 || type == TLM_DT_Q8_0 ? load_kv(type, vj, at)
                                                         : load_row_tail(type, vj, at, tail);
        acc[nvec - 1] = _mm256_fmadd_ps(pj, last, acc[nvec - 1]);
    }
    __m256 iv = _mm256_set1_ps(inv);
#pragma GCC unroll 16
    for (int c = 0; c < nvec - 1; c++)
        _mm256_storeu_ps(out + 8 * c, _mm256_mul_ps(acc[c], iv));
    store_tail(out + 8 * (nvec - 1), _mm256_mul_ps(acc[nvec - 1], iv), tail);
}

TLM_INLINE void attn_head(int type, float *out, const float *q, const void *k, const void *v,
                          int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                          float *scores)
{
    for (int32_t j = 0; j < n_keys; j += 4)
        score4(type, scores, q, k, kv_stride, j, n_keys - j < 4 ? n_keys - j : 4, head_dim, scale);

    /* subtract the max so exp() cannot overflow; the largest weight becomes exactly 1 */
    float max = max_of(scores, n_keys);
    __m256 mv = _mm256_set1_ps(max), sum = _mm256_setzero_ps();
    for (int32_t j = 0; j < n_keys; j += 8) {
        int32_t m = n_keys - j < 8 ? n_keys - j : 8;
        __m256 e = exp256(_mm256_sub_ps(load_tail(scores + j, m), mv));
        store_tail(scores + j, e, m);
        sum = _mm256_add_ps(sum, _mm256_and_ps(e, keep_lanes(m)));
    }
    float inv = 1.0f / hsum(sum);

    for (int32_t d = 0; d < head_dim; d += 8 * VAL_VECS) {
        int32_t left = head_dim - d;
        int nvec = left >= 8 * VAL_VECS ? VAL_VECS : (left + 7) / 8;
        int tail = left >= 8 * nvec ? 8 : left - 8 * (nvec - 1);
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

void tlm_attn_head_f32_avx2(float *out, const float *q, const void *k, const void *v,
                            int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                            float *scores)
{
    attn_head(TLM_DT_F32, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}

void tlm_attn_head_f16_avx2(float *out, const float *q, const void *k, const void *v,
                            int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                            float *scores)
{
    attn_head(TLM_DT_F16, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}

void tlm_attn_head_q8_0_avx2(float *out, const float *q, const void *k, const void *v,
                             int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                             float *scores)
{
    attn_head(TLM_DT_Q8_0, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}
