/* qmatmul_b32_avx2.c - qmatmul_b32_body.h with AVX2: vpmaddubsw (each 16-bit pair at most
 * 2 * 127 * 127 < 2^15, so never saturated), then vpmaddwd by ones widens to int32. */
#include "kernels_impl.h"
#include <immintrin.h>

#define B32_FN(name) name##_avx2

static inline __attribute__((always_inline)) __m256i b32_dot_u(__m256i w, __m256i x)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(w, x), _mm256_set1_epi16(1));
}

#include "qmatmul_b32_body.h"
