/* norm_avx512.c - RMSNorm and LayerNorm with AVX-512. Sums are float, 16 lanes added in a
 * fixed tree; LayerNorm takes the variance in a second pass over x - mean, as the reference. */
#include <math.h>

#include "kernels_impl.h"
#include "simd_avx512.h"

/* out = (x - shift) * scale * w + b over n elements; w and b may be NULL. out may be x. */
static void scale_shift(float *out, const float *x, float shift, float scale, const float *w,
                        const float *b, int64_t n)
{
    __m512 sh = _mm512_set1_ps(shift), sc = _mm512_set1_ps(scale), one = _mm512_set1_ps(1.0f);
    __m512 zero = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = mask16(n - i < 16 ? n - i : 16);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), sh), sc);
        v = _mm512_mul_ps(v, w ? _mm512_maskz_loadu_ps(m, w + i) : one);
        v = _mm512_add_ps(v, b ? _mm512_maskz_loadu_ps(m, b + i) : zero);
        _mm512_mask_storeu_ps(out + i, m, v);
    }
}

/* Sum of (x[i] - shift)^2, or of x[i] - shift when !square. */
static float lane_sum(const float *x, float shift, bool square, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, sh = _mm512_set1_ps(shift);
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512 a = _mm512_sub_ps(_mm512_loadu_ps(x + i), sh);
        __m512 b = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16), sh);
        s0 = square ? _mm512_fmadd_ps(a, a, s0) : _mm512_add_ps(s0, a);
        s1 = square ? _mm512_fmadd_ps(b, b, s1) : _mm512_add_ps(s1, b);
    }
    for (; i < n; i += 16) { /* masked lanes load 0 and subtract nothing */
        __mmask16 m = mask16(n - i < 16 ? n - i : 16);
        __m512 a = _mm512_maskz_sub_ps(m, _mm512_maskz_loadu_ps(m, x + i), sh);
        s0 = square ? _mm512_fmadd_ps(a, a, s0) : _mm512_add_ps(s0, a);
    }
    return hsum(_mm512_add_ps(s0, s1));
}

void tlm_rmsnorm_avx512(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = lane_sum(x, 0.0f, true, n);
    scale_shift(out, x, 0.0f, 1.0f / sqrtf(ss / (float)n + eps), w, NULL, n);
}

void tlm_layernorm_avx512(float *out, const float *x, const float *w, const float *b, int64_t n,
                          float eps)
{
    float mean = lane_sum(x, 0.0f, false, n) / (float)n;
    float var = lane_sum(x, mean, true, n) / (float)n;
    scale_shift(out, x, mean, 1.0f / sqrtf(var + eps), w, b, n);
}
