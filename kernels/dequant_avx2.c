/* dequant_avx2.c - to_f32 for the quantized weight types, 8 elements at a time. The same
 * float operations as dequant_ref.c in the same order (scales multiplied in scalar first),
 * so the same bits. Used for embedding rows: simple rather than fast. */
#include <string.h>

#include "kernels_impl.h"
#include "quant.h"
#include "simd_avx2.h"

/* 8 bytes at p, zero-extended (or sign-extended) to dwords. */
TLM_INLINE __m256i u8x8(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
TLM_INLINE __m256i i8x8(const int8_t *p)
{
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}

TLM_INLINE __m256i low4(__m256i v) { return _mm256_and_si256(v, _mm256_set1_epi32(15)); }
TLM_INLINE __m256i high4(__m256i v) { return _mm256_srli_epi32(v, 4); }

/* out[0, 8) = scale * level - min, exactly as the reference rounds it. */
TLM_INLINE void put(float *out, __m256i level, float scale, float min)
{
    __m256 v = _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(level));
    _mm256_storeu_ps(out, _mm256_sub_ps(v, _mm256_set1_ps(min)));
}

/* out[0, 8) = scale * level (no subtraction: -0 stays -0 as in the reference). */
TLM_INLINE void put_sym(float *out, __m256i level, float scale)
{
    _mm256_storeu_ps(out, _mm256_mul_ps(_mm256_set1_ps(scale), _mm256_cvtepi32_ps(level)));
}

void tlm_to_f32_q8_0_avx2(float *out, const void *src, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t k = 0; k < n / QK8_0; k++, out += QK8_0) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < 4; i++)
            put_sym(out + 8 * i, i8x8(b[k].qs + 8 * i), d);
    }
}

void tlm_to_f32_q4_0_avx2(float *out, const void *src, int64_t n)
{
    const block_q4_0 *b = src;
    const __m256i eight = _mm256_set1_epi32(8);
    for (int64_t k = 0; k < n / QK4_0; k++, out += QK4_0) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < 2; i++) {
            __m256i q = u8x8(b[k].qs + 8 * i);
            put_sym(out + 8 * i, _mm256_sub_epi32(low4(q), eight), d);
            put_sym(out + 16 + 8 * i, _mm256_sub_epi32(high4(q), eight), d);
        }
    }
}

/* Sub-block s scale and min of a Q4_K / Q5_K block (as quant_unpack.h: k4_scale_min). */
static void scale_min(const uint8_t *scales, int s, int *sc, int *m)
{
    if (s < 4) {
        *sc = scales[s] & 63;
        *m = scales[s + 4] & 63;
    } else {
        *sc = (scales[s + 4] & 15) | (scales[s - 4] >> 6) << 4;
        *m = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4;
    }
}

/* Q4_K and Q5_K (qh NULL for Q4_K). */
static void to_f32_k_affine(float *out, uint16_t dh, uint16_t dminh, const uint8_t *scales,
                            const uint8_t *qh, const uint8_t *qs)
{
    float d = tlm_f16_to_f32(dh), dmin = tlm_f16_to_f32(dminh);
    const __m256i one = _mm256_set1_epi32(1);
    for (int j = 0; j < 4; j++) {
        int sc[2], m[2];
        scale_min(scales, 2 * j, &sc[0], &m[0]);
        scale_min(scales, 2 * j + 1, &sc[1], &m[1]);
        for (int i = 0; i < 4; i++) { /* elements l = 8i .. 8i + 7 of each 32 */
            __m256i q = u8x8(qs + 32 * j + 8 * i);
            __m256i lo = low4(q), hi = high4(q);
            if (qh) {
                __m256i h = u8x8(qh + 8 * i);
                lo = _mm256_or_si256(
                    lo, _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * j), one), 4));
                hi = _mm256_or_si256(
                    hi,
                    _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(h, 2 * j + 1), one), 4));
            }
            put(out + 64 * j + 8 * i, lo, d * (float)sc[0], dmin * (float)m[0]);
            put(out + 64 * j + 32 + 8 * i, hi, d * (float)sc[1], dmin * (float)m[1]);
        }
    }
}

void tlm_to_f32_q4_K_avx2(float *out, const void *src, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++)
        to_f32_k_affine(out + k * QK_K, b[k].d, b[k].dmin, b[k].scales, NULL, b[k].qs);
}

void tlm_to_f32_q5_K_avx2(float *out, const void *src, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++)
        to_f32_k_affine(out + k * QK_K, b[k].d, b[k].dmin, b[k].scales, b[k].qh, b[k].qs);
}

void tlm_to_f32_q6_K_avx2(float *out, const void *src, int64_t n)
{
    const block_q6_K *b = src;
    const __m256i three = _mm256_set1_epi32(3), off = _mm256_set1_epi32(32);
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int h = 0; h < 2; h++)
            for (int i = 0; i < 4; i++) { /* l = 8i .. 8i + 7 */
                __m256i a = u8x8(b[k].ql + 64 * h + 8 * i);
                __m256i c = u8x8(b[k].ql + 64 * h + 32 + 8 * i);
                __m256i e = u8x8(b[k].qh + 32 * h + 8 * i);
                __m256i lo4[4] = {low4(a), low4(c), high4(a), high4(c)};
                for (int g = 0; g < 4; g++) { /* elements 128h + 32g + 8i + l */
                    __m256i hi2 = _mm256_and_si256(_mm256_srli_epi32(e, 2 * g), three);
                    __m256i q = _mm256_or_si256(lo4[g], _mm256_slli_epi32(hi2, 4));
                    int s = 8 * h + 2 * g + i / 2;
                    put_sym(out + 128 * h + 32 * g + 8 * i, _mm256_sub_epi32(q, off),
                            d * (float)b[k].scales[s]);
                }
            }
    }
}
