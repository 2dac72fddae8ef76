/* qmatmul_b32_avx512vnni.c - qmatmul_b32_body.h with AVX-512 VNNI: 16 rows per zmm, levels as
 * unsigned bytes (IQ4_NL's codebook plus 128), one vpdpbusd per 4 elements of 16 rows. */
#include "simd_avx512.h"

#define B32_IQ4_BIAS 128
#define QMATMUL_FN(name) name##_avx512vnni

enum { B32_NR = 6 }; /* tokens per tile: 6 accumulators and 6 sums of 32 registers */
/* tokens per small-batch pass: 8 float sums, 8 integer sums and a unit's 10 vectors of 32
 * registers (no spills in gcc 12's code) */
enum { B32_NB = 8 };

/* acc + w . (the 4 signed bytes at x, broadcast): vpdpbusd with an embedded-broadcast memory
 * operand (GCC 12 loads the broadcast into a register first otherwise). */
TLM_INLINE __m512i b32_dot4(__m512i acc, __m512i w, const int8_t *x, bool sgn)
{
    (void)sgn; /* levels are always unsigned here */
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t *)x));
    return acc;
}

TLM_INLINE __m512i b32_bytes(int c) { return _mm512_set1_epi8((char)c); }
TLM_INLINE __m512i b32_set4(int a, int b, int c, int d) { return _mm512_set4_epi32(d, c, b, a); }
TLM_INLINE __m512i b32_load(const char *p) { return _mm512_loadu_si512(p); }
TLM_INLINE void b32_store(char *p, __m512i v) { _mm512_store_si512(p, v); }
TLM_INLINE __m512i b32_castf(__m512 v) { return _mm512_castps_si512(v); }
TLM_INLINE __m512i b32_shuffle(__m512i v, __m512i idx) { return _mm512_shuffle_epi8(v, idx); }
TLM_INLINE __m512i b32_min_u8(__m512i a, __m512i b) { return _mm512_min_epu8(a, b); }
TLM_INLINE __m512i b32_shl16(__m512i v, int n) { return _mm512_slli_epi16(v, (unsigned)n); }
TLM_INLINE __m512i b32_gather(const char *base, __m512i idx)
{
    return _mm512_i32gather_epi32(idx, (const void *)base, 1);
}
TLM_INLINE __m512 b32_f16_lo(__m512i v) { return _mm512_cvtph_ps(_mm512_cvtepi32_epi16(v)); }
TLM_INLINE __m512 b32_f16_hi(__m512i v) { return b32_f16_lo(_mm512_srli_epi32(v, 16)); }
TLM_INLINE __m512 b32_cvtph(const char *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

#include "qmatmul_b32_body.h"
