/* qmatmul_lowk_avx512vnni.c - qmatmul_lowk_body.h with AVX-512 VNNI: levels packed as unsigned
 * bytes (plus 128), one vpdpbusd per 4 elements of 16 rows; 128 times the activations' sum
 * per 16 comes back out before the sub-block scale. */
#include "simd_avx512.h"

#define LOWK_OFFSET 128
#define QMATMUL_FN(name) name##_avx512vnni

TLM_INLINE __m512i lowk_dot4(__m512i acc, __m512i w, int32_t x4)
{
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(x4));
}

TLM_INLINE __m512i lowk_mul(__m512i a, __m512i b) { return _mm512_mullo_epi32(a, b); }

#include "qmatmul_lowk_body.h"
