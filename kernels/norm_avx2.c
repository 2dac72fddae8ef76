/* norm_avx2.c - RMSNorm and LayerNorm with AVX2. Sums are float, 8 lanes added in a fixed
 * tree; LayerNorm takes the variance in a second pass over x - mean, as the reference. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx2.h"

/* (x - shift) * scale * w + b for one vector of m <= 8 elements at offset i. */
TLM_INLINE __m256 scale_shift8(const float *x, float shift, float scale, const float *w,
                               const float *b, int64_t i, int64_t m)
{
    __m256 xv = m == 8 ? _mm256_loadu_ps(x + i) : load_tail(x + i, m);
    __m256 v = _mm256_mul_ps(_mm256_sub_ps(xv, _mm256_set1_ps(shift)), _mm256_set1_ps(scale));
    if (w) v = _mm256_mul_ps(v, m == 8 ? _mm256_loadu_ps(w + i) : load_tail(w + i, m));
    if (b) v = _mm256_add_ps(v, m == 8 ? _mm256_loadu_ps(b + i) : load_tail(b + i, m));
    return v;
}

/* out = (x - shift) * scale * w + b over n elements; w and b may be NULL. out may be x. */
static void scale_shift(float *out, const float *x, float shift, float scale, const float *w,
                        const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, scale_shift8(x, shift, scale, w, b, i, 8));
    if (i < n) store_tail(out + i, scale_shift8(x, shift, scale, w, b, i, n - i), n - i);
}

/* Sum of (x[i] - shift)^2, or of x[i] - shift when !square. */
static float lane_sum(const float *x, float shift, bool square, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, sh = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a = _mm256_sub_ps(_mm256_loadu_ps(x + i), sh);
        __m256 b = _mm256_sub_ps(_mm256_loadu_ps(x + i + 8), sh);
        s0 = square ? _mm256_fmadd_ps(a, a, s0) : _mm256_add_ps(s0, a);
        s1 = square ? _mm256_fmadd_ps(b, b, s1) : _mm256_add_ps(s1, b);
    }
    for (; i < n; i += 8) {
        int64_t m = n - i < 8 ? n - i : 8;
        /* lanes past n must add nothing: zero them after the subtraction */
        __m256 keep = _mm256_castsi256_ps(_mm256_cmpgt_epi32(
            _mm256_set1_epi32((int)m), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
        __m256 a = _mm256_and_ps(_mm256_sub_ps(load_tail(x + i, m), sh), keep);
        s0 = square ? _mm256_fmadd_ps(a, a, s0) : _mm256_add_ps(s0, a);
    }
    return hsum(_mm256_add_ps(s0, s1));
}

void tlm_rmsnorm_avx2(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = lane_sum(x, 0.0f, true, n);
    scale_shift(out, x, 0.0f, 1.0f / sqrtf(ss / (float)n + eps), w, NULL, n);
}

void tlm_layernorm_avx2(float *out, const float *x, const float *w, const float *b, int64_t n,
                        float eps)
{
    float mean = lane_sum(x, 0.0f, false, n) / (float)n;
    float var = lane_sum(x, mean, true, n) / (float)n;
    scale_shift(out, x, mean, 1.0f / sqrtf(var + eps), w, b, n);
}
