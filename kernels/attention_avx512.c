/* attention_avx512.c - one attention head for one query with AVX-512: scores four keys at a
 * time, a vectorised softmax, then the weighted sum of values with the output in registers.
 * Every key's score goes through the same arithmetic wherever it falls in a group of four.
 * Keys and values come from an F32, F16 or Q8_0 cache, widened to float as they are loaded. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx512.h"

enum { VAL_VECS = 8 }; /* output vectors kept in registers per pass over the values */

/* cache_row and load_cache: simd_avx512.h */

/* scores[j + i] = scale * (q . k_{j+i}) for the i < n_valid of 4 keys; the missing keys
 * repeat the last one so that every score takes the same path. */
TLM_INLINE void score4(int type, float *scores, const float *q, const void *k, int64_t kv_stride,
                       int32_t j, int n_valid, int32_t head_dim, float scale)
{
    const void *kj[4];
    for (int i = 0; i < 4; i++)
        kj[i] = cache_row(type, k, j + (i < n_valid ? i : n_valid - 1), kv_stride);
    __m512 s[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
    for (int32_t d = 0; d < head_dim; d += 16) {
        __mmask16 m = mask16(head_dim - d < 16 ? head_dim - d : 16);
        __m512 qv = _mm512_maskz_loadu_ps(m, q + d);
#pragma GCC unroll 16
        for (int i = 0; i < 4; i++)
            s[i] = _mm512_fmadd_ps(qv, load_cache(type, kj[i], d, m), s[i]);
    }
    for (int i = 0; i < n_valid; i++)
        scores[j + i] = hsum(s[i]) * scale;
}

/* out[0, 16 * nvec) (last vector masked to `tail` lanes) = inv * sum_j p_j v_j[...]. */
TLM_INLINE void weigh_values(int type, int nvec, float *out, const void *v, int64_t d,
                             int64_t kv_stride, int32_t n_keys, const float *p, __mmask16 tail,
                             float inv)
{
    __m512 acc[VAL_VECS];
#pragma GCC unroll 16
    for (int c = 0; c < nvec; c++)
        acc[c] = _mm512_setzero_ps();
    for (int32_t j = 0; j < n_keys; j++) {
        const void *vj = cache_row(type, v, j, kv_stride);
        __m512 pj = _mm512_set1_ps(p[j]);
#pragma GCC unroll 16
        for (int c = 0; c < nvec; c++) {
            __mmask16 m = c == nvec - 1 ? tail : (__mmask16)0xffff;
            acc[c] = _mm512_fmadd_ps(pj, load_cache(type, vj, d + 16 * c, m), acc[c]);
        }
    }
#pragma GCC unroll 16
    for (int c = 0; c < nvec; c++)
        _mm512_mask_storeu_ps(out + 16 * c, c == nvec - 1 ? tail : (__mmask16)0xffff,
                              _mm512_mul_ps(acc[c], _mm512_set1_ps(inv)));
}

TLM_INLINE void attn_head(int type, float *out, const float *q, const void *k, const void *v,
                          int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                          float *scores)
{
    for (int32_t j = 0; j < n_keys; j += 4)
        score4(type, scores, q, k, kv_stride, j, n_keys - j < 4 ? n_keys - j : 4, head_dim, scale);

    /* subtract the max so exp() cannot overflow; the largest weight becomes exactly 1 */
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int32_t j = 0; j < n_keys; j += 16) {
        __mmask16 m = mask16(n_keys - j < 16 ? n_keys - j : 16);
        mx = _mm512_mask_max_ps(mx, m, mx, _mm512_maskz_loadu_ps(m, scores + j));
    }
    __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(mx)), sum = _mm512_setzero_ps();
    for (int32_t j = 0; j < n_keys; j += 16) {
        __mmask16 m = mask16(n_keys - j < 16 ? n_keys - j : 16);
        __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), max));
        _mm512_mask_storeu_ps(scores + j, m, e);
        sum = _mm512_mask_add_ps(sum, m, sum, e);
    }
    float inv = 1.0f / hsum(sum);

    for (int32_t d = 0; d < head_dim; d += 16 * VAL_VECS) {
        int32_t left = head_dim - d;
        int nvec = left >= 16 * VAL_VECS ? VAL_VECS : (left + 15) / 16;
        __mmask16 tail = mask16(left >= 16 * nvec ? 16 : left - 16 * (nvec - 1));
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

void tlm_attn_head_f32_avx512(float *out, const float *q, const void *k, const void *v,
                              int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                              float *scores)
{
    attn_head(TLM_DT_F32, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}

void tlm_attn_head_f16_avx512(float *out, const float *q, const void *k, const void *v,
                              int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                              float *scores)
{
    attn_head(TLM_DT_F16, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}

void tlm_attn_head_q8_0_avx512(float *out, const float *q, const void *k, const void *v,
                               int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                               float *scores)
{
    attn_head(TLM_DT_Q8_0, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}
