/* qmatmul_lowk_avx2.c - qmatmul_lowk_body.h with AVX2: the levels are signed bytes (IQ4_XS's
 * codebook as is) and vpmaddubsw takes |w| times sign(x, w) (each 16-bit pair at most
 * 2 * 127 * 127 < 2^15, so never saturated); vpmaddwd by ones widens to int32. */
#include "simd_avx2.h"

#define LOWK_IQ4_BIAS 0
#define QMATMUL_FN(name) name##_avx2

/* tokens per small-batch pass, as the other K-quants' on AVX2: 4 float and 4 integer sums (gcc
 * spills some of a unit's entries and scales to L1: objdump; cost not measured) */
enum { LOWK_NB = 4 };

TLM_INLINE __m256i lowk_dot4(__m256i acc, __m256i w, int32_t x4)
{
    __m256i x = _mm256_sign_epi8(_mm256_set1_epi32(x4), w);
    __m256i s16 = _mm256_maddubs_epi16(_mm256_abs_epi8(w), x);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(s16, _mm256_set1_epi16(1)));
}

/* Unsigned levels (at most 7) need no sign trick: four vpmaddubsw summed in int16 (each at
 * most 4 * 2 * 7 * 127 = 7112 in magnitude), one vpmaddwd by ones. */
TLM_INLINE __m256i lowk_dot16_u(const __m256i e[4], const int8_t *x)
{
    __m256i s16 = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        int32_t x4;
        memcpy(&x4, x + 4 * k, 4);
        s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(e[k], _mm256_set1_epi32(x4)));
    }
    return _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
}
#define LOWK_DOT16_U lowk_dot16_u

TLM_INLINE __m256i lowk_mul(__m256i a, __m256i b) { return _mm256_mullo_epi32(a, b); }

TLM_INLINE __m256i lowk_gather(const char *p, __m256i off)
{
    return _mm256_i32gather_epi32((const int *)(const void *)p, off, 1);
}

TLM_INLINE void lowk_store(char *p, __m256i v) { _mm256_store_si256((__m256i *)(void *)p, v); }

TLM_INLINE __m256 lowk_f16_lo(__m256i v)
{
    __m256i w =
        _mm256_packus_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_setzero_si256());
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(w, 0xd8)));
}

TLM_INLINE __m256i lowk_iq4(__m256i nib)
{
    const __m256i kv =
        _mm256_setr_epi8(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
                         -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
    return _mm256_shuffle_epi8(kv, nib);
}

TLM_INLINE __m256i lowk_dot16x2(__m256i acc, __m256i w, int32_t x2)
{
    return _mm256_add_epi32(acc, _mm256_madd_epi16(w, _mm256_set1_epi32(x2)));
}

/* VL u16 at p, zero-extended to int32 lanes */
TLM_INLINE __m256i lowk_load_u16(const char *p)
{
    return _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)p));
}

#include "qmatmul_lowk_body.h"
