/* qmatmul_lowk_avx512vnni.c - qmatmul_lowk_body.h with AVX-512 VNNI: levels packed as unsigned
 * bytes (IQ4_XS's codebook plus 128), one vpdpbusd per 4 elements of 16 rows. */
#include "simd_avx512.h"

#define LOWK_IQ4_BIAS 128
#define QMATMUL_FN(name) name##_avx512vnni

/* tokens per small-batch pass: 8 float and 8 integer sums in registers, as the other K-quants'
 * (NB_SMALL_K; gcc hoists some scales to L1 slots; not measured) */
enum { LOWK_NB = 8 };

TLM_INLINE __m512i lowk_dot4(__m512i acc, __m512i w, int32_t x4)
{
    return _mm512_dpbusd_epi32(acc, w, _mm512_set1_epi32(x4));
}

TLM_INLINE __m512i lowk_mul(__m512i a, __m512i b) { return _mm512_mullo_epi32(a, b); }

TLM_INLINE __m512i lowk_gather(const char *p, __m512i off)
{
    return _mm512_i32gather_epi32(off, (const void *)p, 1);
}

TLM_INLINE void lowk_store(char *p, __m512i v) { _mm512_store_si512((void *)p, v); }

TLM_INLINE __m512 lowk_f16_lo(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }

TLM_INLINE __m512i lowk_iq4(__m512i nib)
{
    /* the codebook plus 128, as unsigned bytes */
    const __m128i kv =
        _mm_setr_epi8(1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166,
                      (char)181, (char)197, (char)217, (char)241);
    return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(kv), nib);
}

TLM_INLINE __m512i lowk_dot16x2(__m512i acc, __m512i w, int32_t x2)
{
    return _mm512_dpwssd_epi32(acc, w, _mm512_set1_epi32(x2));
}

/* VL u16 at p, zero-extended to int32 lanes */
TLM_INLINE __m512i lowk_load_u16(const char *p)
{
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

#include "qmatmul_lowk_body.h"
