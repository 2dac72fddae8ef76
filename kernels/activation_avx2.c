/* activation_avx2.c - SiLU and tanh-GELU with AVX2.
 *
 * GELU uses 0.5 (1 + tanh(u)) = sigmoid(2u), the same function as the reference's tanh
 * form: x * sigmoid(2u) needs one exp and keeps its relative accuracy where 1 + tanh(u)
 * cancels (x << 0). */
#include "kernels_impl.h"
#include "simd_avx2.h"

enum { SILU, GELU };

/* act(x): x * sigmoid(x) for SiLU, x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) for GELU. */
TLM_INLINE __m256 act(int kind, __m256 x)
{
    if (kind == SILU) return mul_sigmoid256(x, x);
    __m256 x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    __m256 u = _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), x3, x);
    return mul_sigmoid256(x, _mm256_mul_ps(_mm256_set1_ps(2 * 0.7978845608028654f), u));
}

/* gate = act(gate) * up, or act(gate) alone when up is NULL. */
TLM_INLINE void apply(int kind, float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = act(kind, _mm256_loadu_ps(gate + i));
        if (up) g = _mm256_mul_ps(g, _mm256_loadu_ps(up + i));
        _mm256_storeu_ps(gate + i, g);
    }
    if (i < n) {
        __m256 g = act(kind, load_tail(gate + i, n - i));
        if (up) g = _mm256_mul_ps(g, load_tail(up + i, n - i));
        store_tail(gate + i, g, n - i);
    }
}

void tlm_silu_mul_avx2(float *gate, const float *up, int64_t n) { apply(SILU, gate, up, n); }

void tlm_gelu_tanh_mul_avx2(float *gate, const float *up, int64_t n) { apply(GELU, gate, up, n); }

void tlm_gelu_tanh_avx2(float *x, int64_t n) { apply(GELU, x, NULL, n); }
