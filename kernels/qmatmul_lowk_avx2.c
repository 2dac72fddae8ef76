/* qmatmul_lowk_avx2.c - qmatmul_lowk_body.h with AVX2: the levels stay signed bytes and
 * vpmaddubsw takes |w| times sign(x, w) (each 16-bit pair at most 2 * 127 * 127 < 2^15, so
 * never saturated), vpmaddwd by ones widens to int32. */
#include "simd_avx2.h"

#define LOWK_OFFSET 0
#define QMATMUL_FN(name) name##_avx2

TLM_INLINE __m256i lowk_dot4(__m256i acc, __m256i w, int32_t x4)
{
    __m256i x = _mm256_sign_epi8(_mm256_set1_epi32(x4), w);
    __m256i s16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), x);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
}

TLM_INLINE __m256i lowk_mul(__m256i a, __m256i b) { return _mm256_mullo_epi32(a, b); }

#include "qmatmul_lowk_body.h"
