/* qmatmul_b32_avx512vnni.c - qmatmul_b32_body.h with AVX-512 VNNI on 256-bit vectors (one
 * block of 32 is one ymm): one vpdpbusd per block and token. */
#include "kernels_impl.h"
#include <immintrin.h>

#define B32_FN(name) name##_avx512vnni

static inline __attribute__((always_inline)) __m256i b32_dot_u(__m256i w, __m256i x)
{
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, x);
}

#include "qmatmul_b32_body.h"
