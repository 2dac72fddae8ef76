/* qmatmul_b32_avx2.c - qmatmul_b32_body.h with AVX2: 8 rows per ymm (a group of 16 is two),
 * vpmaddubsw then vpmaddwd by ones into int32 per 4 elements. A 16-bit pair is at most
 * 2 * 31 * 127 (unsigned levels) or 2 * 127 * 127 (IQ4_NL's signed values, taken as |w| by
 * sign(x, w)), below 2^15, so never saturated. */
#include "simd_avx2.h"

#define B32_IQ4_BIAS 0
#define QMATMUL_FN(name) name##_avx2

enum { B32_NR = 4 }; /* tokens per tile, within 16 registers */
/* tokens per small-batch pass, as the Q4_0 small batches on AVX2: 4 float and 4 integer sums
 * and a unit's 10 vectors are more than 16 registers, so gcc spills some to L1 (objdump; cost
 * not measured) */
enum { B32_NB = 4 };

TLM_INLINE __m256i b32_dot4(__m256i acc, __m256i w, const int8_t *x, bool sgn)
{
    int32_t x4;
    memcpy(&x4, x, 4);
    __m256i xv = _mm256_set1_epi32(x4);
    if (sgn) {
        xv = _mm256_sign_epi8(xv, w);
        w = _mm256_abs_epi8(w);
    }
    return _mm256_add_epi32(acc,
                            _mm256_madd_epi16(_mm256_maddubs_epi16(w, xv), _mm256_set1_epi16(1)));
}

TLM_INLINE __m256i b32_bytes(int c) { return _mm256_set1_epi8((char)c); }
TLM_INLINE __m256i b32_set4(int a, int b, int c, int d)
{
    return _mm256_setr_epi32(a, b, c, d, a, b, c, d);
}
TLM_INLINE __m256i b32_load(const char *p) { return _mm256_loadu_si256((const __m256i *)p); }
TLM_INLINE void b32_store(char *p, __m256i v) { _mm256_store_si256((__m256i *)p, v); }
TLM_INLINE __m256i b32_castf(__m256 v) { return _mm256_castps_si256(v); }
TLM_INLINE __m256i b32_shuffle(__m256i v, __m256i idx) { return _mm256_shuffle_epi8(v, idx); }
TLM_INLINE __m256i b32_min_u8(__m256i a, __m256i b) { return _mm256_min_epu8(a, b); }
TLM_INLINE __m256i b32_shl16(__m256i v, int n) { return _mm256_slli_epi16(v, n); }
TLM_INLINE __m256i b32_gather(const char *base, __m256i idx)
{
    return _mm256_i32gather_epi32((const int *)(const void *)base, idx, 1);
}
TLM_INLINE __m256 b32_f16_lo(__m256i v)
{
    __m256i w =
        _mm256_packus_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0xffff)), _mm256_setzero_si256());
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(w, 0xd8)));
}
TLM_INLINE __m256 b32_f16_hi(__m256i v) { return b32_f16_lo(_mm256_srli_epi32(v, 16)); }
TLM_INLINE __m256 b32_cvtph(const char *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

#include "qmatmul_b32_body.h"
