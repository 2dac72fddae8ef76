/* activation_avx512.c - SiLU and tanh-GELU with AVX-512.
 *
 * GELU uses 0.5 (1 + tanh(u)) = sigmoid(2u), the same function as the reference's tanh
 * form: x * sigmoid(2u) needs one exp and keeps its relative accuracy where 1 + tanh(u)
 * cancels (x << 0). */
#include "kernels_impl.h"
#include "simd_avx512.h"

enum { SILU, GELU };

/* act(x): x * sigmoid(x) for SiLU, x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) for GELU. */
TLM_INLINE __m512 act(int kind, __m512 x)
{
    if (kind == SILU) return mul_sigmoid512(x, x);
    __m512 x3 = _mm512_mul_ps(_mm512_mul_ps(x, x), x);
    __m512 u = _mm512_fmadd_ps(_mm512_set1_ps(0.044715f), x3, x);
    return mul_sigmoid512(x, _mm512_mul_ps(_mm512_set1_ps(2 * 0.7978845608028654f), u));
}

/* gate = act(gate) * up, or act(gate) alone when up is NULL. */
TLM_INLINE void apply(int kind, float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = mask16(n - i < 16 ? n - i : 16);
        __m512 g = act(kind, _mm512_maskz_loadu_ps(m, gate + i));
        if (up) g = _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i));
        _mm512_mask_storeu_ps(gate + i, m, g);
    }
}

void tlm_silu_mul_avx512(float *gate, const float *up, int64_t n) { apply(SILU, gate, up, n); }

void tlm_gelu_tanh_mul_avx512(float *gate, const float *up, int64_t n) { apply(GELU, gate, up, n); }

void tlm_gelu_tanh_avx512(float *x, int64_t n) { apply(GELU, x, NULL, n); }
