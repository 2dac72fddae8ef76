/* dequant_avx512.c - to_f32 for the quantized weight types, 16 elements at a time. The same
 * float operations as dequant_ref.c in the same order (scales multiplied in scalar first),
 * so the same bits. Used for embedding rows: simple rather than fast. */
#include "kernels_impl.h"
#include "quant.h"
#include "simd_avx512.h"

/* 16 bytes at p, zero-extended to dwords. */
TLM_INLINE __m512i u8x16(const uint8_t *p)
{
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}

TLM_INLINE __m512i low4(__m512i v) { return _mm512_and_si512(v, _mm512_set1_epi32(15)); }
TLM_INLINE __m512i high4(__m512i v) { return _mm512_srli_epi32(v, 4); }

/* out[0, 16) = scale * level - min, exactly as the reference rounds it. */
TLM_INLINE void put(float *out, __m512i level, float scale, float min)
{
    __m512 v = _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(level));
    _mm512_storeu_ps(out, _mm512_sub_ps(v, _mm512_set1_ps(min)));
}

/* out[0, 16) = scale * level (no subtraction: -0 stays -0 as in the reference). */
TLM_INLINE void put_sym(float *out, __m512i level, float scale)
{
    _mm512_storeu_ps(out, _mm512_mul_ps(_mm512_set1_ps(scale), _mm512_cvtepi32_ps(level)));
}

void tlm_to_f32_q8_0_avx512(float *out, const void *src, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t k = 0; k < n / QK8_0; k++, out += QK8_0) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < 2; i++)
            put_sym(out + 16 * i,
                    _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(b[k].qs + 16 * i))), d);
    }
}

void tlm_to_f32_q4_0_avx512(float *out, const void *src, int64_t n)
{
    const block_q4_0 *b = src;
    const __m512i eight = _mm512_set1_epi32(8);
    for (int64_t k = 0; k < n / QK4_0; k++, out += QK4_0) {
        float d = tlm_f16_to_f32(b[k].d);
        __m512i q = u8x16(b[k].qs);
        put_sym(out, _mm512_sub_epi32(low4(q), eight), d);
        put_sym(out + 16, _mm512_sub_epi32(high4(q), eight), d);
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
    for (int j = 0; j < 4; j++) {
        int sc[2], m[2];
        scale_min(scales, 2 * j, &sc[0], &m[0]);
        scale_min(scales, 2 * j + 1, &sc[1], &m[1]);
        for (int half = 0; half < 2; half++) {
            __m512i q = u8x16(qs + 32 * j + 16 * half);
            __m512i lo = low4(q), hi = high4(q);
            if (qh) {
                __m512i h = u8x16(qh + 16 * half);
                lo = _mm512_or_si512(
                    lo,
                    _mm512_slli_epi32(
                        _mm512_and_si512(_mm512_srli_epi32(h, 2 * j), _mm512_set1_epi32(1)), 4));
                hi = _mm512_or_si512(
                    hi, _mm512_slli_epi32(
                            _mm512_and_si512(_mm512_srli_epi32(h, 2 * j + 1), _mm512_set1_epi32(1)),
                            4));
            }
            put(out + 64 * j + 16 * half, lo, d * (float)sc[0], dmin * (float)m[0]);
            put(out + 64 * j + 32 + 16 * half, hi, d * (float)sc[1], dmin * (float)m[1]);
        }
    }
}

void tlm_to_f32_q4_K_avx512(float *out, const void *src, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++)
        to_f32_k_affine(out + k * QK_K, b[k].d, b[k].dmin, b[k].scales, NULL, b[k].qs);
}

void tlm_to_f32_q5_K_avx512(float *out, const void *src, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++)
        to_f32_k_affine(out + k * QK_K, b[k].d, b[k].dmin, b[k].scales, b[k].qh, b[k].qs);
}

void tlm_to_f32_q6_K_avx512(float *out, const void *src, int64_t n)
{
    const block_q6_K *b = src;
    const __m512i three = _mm512_set1_epi32(3), off = _mm512_set1_epi32(32);
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int h = 0; h < 2; h++)
            for (int p = 0; p < 2; p++) {
                __m512i a = u8x16(b[k].ql + 64 * h + 16 * p);
                __m512i c = u8x16(b[k].ql + 64 * h + 32 + 16 * p);
                __m512i e = u8x16(b[k].qh + 32 * h + 16 * p);
                __m512i lo4[4] = {low4(a), low4(c), high4(a), high4(c)};
                for (int g = 0; g < 4; g++) { /* elements 128h + 32g + 16p + l */
                    __m512i hi2 = _mm512_and_si512(_mm512_srli_epi32(e, 2 * g), three);
                    __m512i q = _mm512_or_si512(lo4[g], _mm512_slli_epi32(hi2, 4));
                    int s = 8 * h + 2 * g + p;
                    put_sym(out + 128 * h + 32 * g + 16 * p, _mm512_sub_epi32(q, off),
                            d * (float)b[k].scales[s]);
                }
            }
    }
}
