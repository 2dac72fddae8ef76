/* simd_avx512.h - inline helpers shared by the _avx512 kernel files (include only from them:
 * it needs their -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c flags). */
#ifndef TLM_SIMD_AVX512_H
#define TLM_SIMD_AVX512_H

#include <immintrin.h>
#include <stdint.h>

#include "kernels.h"

/* Forced inlining lets constant arguments (a weight type, a tile shape) specialise a body. */
#define TLM_INLINE static inline __attribute__((always_inline))

/* Lanes [0, n) of 16, n in [0, 16]. */
TLM_INLINE __mmask16 mask16(int64_t n) { return (__mmask16)((1u << n) - 1); }

/* ---- weight rows: 16 elements of F32, F16 or BF16 widened to float -------------------- */

/* bf16 is the high half of an f32: widening is a 16-bit shift */
TLM_INLINE __m512 bf16_widen(__m256i h)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

/* Elements [k, k + 16) of a row of `type` (a constant after inlining). */
TLM_INLINE __m512 load_row(int type, const void *row, int64_t k)
{
    if (type == TLM_DT_F32) return _mm512_loadu_ps((const float *)row + k);
    __m256i h = _mm256_loadu_si256((const __m256i *)((const uint16_t *)row + k));
    return type == TLM_DT_F16 ? _mm512_cvtph_ps(h) : bf16_widen(h);
}

/* Elements [k, k + n) with zeros above, n < 16; never reads past the row's end. */
TLM_INLINE __m512 load_row_tail(int type, const void *row, int64_t k, int64_t n)
{
    if (type == TLM_DT_F32) return _mm512_maskz_loadu_ps(mask16(n), (const float *)row + k);
    __m256i h = _mm256_maskz_loadu_epi16(mask16(n), (const uint16_t *)row + k);
    return type == TLM_DT_F16 ? _mm512_cvtph_ps(h) : bf16_widen(h);
}

/* out[0, n) = elements [0, n) of a row of `type`, as float. */
TLM_INLINE void row_to_f32(int type, float *out, const void *row, int64_t n)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(out + i, load_row(type, row, i));
    if (i < n) _mm512_mask_storeu_ps(out + i, mask16(n - i), load_row_tail(type, row, i, n - i));
}

/* ---- KV cache rows: F32, F16 or Q8_0 (blocks of an f16 scale and 32 int8) ------------ */

/* Row j of a cache whose rows are `stride` elements of `type` apart. */
TLM_INLINE const void *cache_row(int type, const void *base, int64_t j, int64_t stride)
{
    return (const char *)base + tlm_kv_bytes(type, (uint64_t)(j * stride));
}

/* Lanes m of elements [i, i + 16) of a cache row, as float; Q8_0: i a multiple of 16. */
TLM_INLINE __m512 load_cache(int type, const void *row, int64_t i, __mmask16 m)
{
    if (type == TLM_DT_F32) return _mm512_maskz_loadu_ps(m, (const float *)row + i);
    if (type == TLM_DT_F16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)row + i));
    const uint8_t *b = (const uint8_t *)row + i / 32 * 34;
    __m512i q = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b + 2 + i % 32));
    float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(b[0] | b[1] << 8)));
    return _mm512_mul_ps(_mm512_cvtepi32_ps(q), _mm512_set1_ps(d));
}

/* ---- reductions and math --------------------------------------------------------------- */

/* Sum of the 16 lanes, always in the same tree: halves, quarters, eighths, then the pair. */
TLM_INLINE float hsum(__m512 v)
{
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

/* exp(x), within about 2 ulp; overflow gives +Inf, underflow 0 or a subnormal, NaN stays.
 * x = n ln2 + r with |r| <= ln2/2, exp(r) by its degree-7 Taylor polynomial (truncation
 * error below 1e-8), then scalef multiplies by 2^n with correct overflow and underflow. */
TLM_INLINE __m512 exp512(__m512 x)
{
    /* exp saturates outside [-104, 89]; max(lo, x) and min(hi, .) return x when it is NaN */
    x = _mm512_min_ps(_mm512_set1_ps(89.0f), _mm512_max_ps(_mm512_set1_ps(-104.0f), x));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln2 in two parts: n * ln2_hi is exact, so r keeps its low bits */
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606820309417232e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* x * sigmoid(z) = x / (1 + exp(-z)); exp overflowing to Inf gives the right limit (+-0). */
TLM_INLINE __m512 mul_sigmoid512(__m512 x, __m512 z)
{
    __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), z));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

/* ---- the vector API the kernel bodies (*_body.h) are written in (see simd_avx2.h) --------- */

#define VL 16
#define TLM_ISA_FN(name) name##_avx512
typedef __m512 vf;
typedef __m512i vi;
typedef __mmask16 vbool;
typedef __mmask16 vmask;

TLM_INLINE vf vf_zero(void) { return _mm512_setzero_ps(); }
TLM_INLINE vf vf_set1(float x) { return _mm512_set1_ps(x); }
TLM_INLINE vf vf_load(const float *p) { return _mm512_loadu_ps(p); }
TLM_INLINE void vf_store(float *p, vf v) { _mm512_storeu_ps(p, v); }
TLM_INLINE vf vf_add(vf a, vf b) { return _mm512_add_ps(a, b); }
TLM_INLINE vf vf_sub(vf a, vf b) { return _mm512_sub_ps(a, b); }
TLM_INLINE vf vf_mul(vf a, vf b) { return _mm512_mul_ps(a, b); }
TLM_INLINE vf vf_div(vf a, vf b) { return _mm512_div_ps(a, b); }
TLM_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
TLM_INLINE vf vf_max(vf a, vf b) { return _mm512_max_ps(a, b); }
TLM_INLINE vf vf_min(vf a, vf b) { return _mm512_min_ps(a, b); }
TLM_INLINE vf vf_abs(vf v) { return _mm512_abs_ps(v); }
TLM_INLINE float vf_hsum(vf v) { return hsum(v); }
TLM_INLINE float vf_hmax(vf v) { return _mm512_reduce_max_ps(v); }
TLM_INLINE vf vf_exp(vf v) { return exp512(v); }

TLM_INLINE vmask vmask_n(int64_t n) { return mask16(n); }
TLM_INLINE vmask vmask_all(void) { return (vmask)0xffff; }
TLM_INLINE vf vf_load_m(const float *p, vmask m) { return _mm512_maskz_loadu_ps(m, p); }
TLM_INLINE void vf_store_m(float *p, vf v, vmask m) { _mm512_mask_storeu_ps(p, m, v); }
TLM_INLINE vf vf_load_kv(int type, const void *row, int64_t i, vmask m)
{
    return load_cache(type, row, i, m);
}

TLM_INLINE vi vi_load(const int32_t *p) { return _mm512_loadu_si512(p); }
TLM_INLINE vi vi_set1(int32_t x) { return _mm512_set1_epi32(x); }
TLM_INLINE vi vi_add(vi a, vi b) { return _mm512_add_epi32(a, b); }
/* v unchanged, but opaque to the compiler: a running sum stays a chain of adds (GCC would
 * otherwise reassociate a long sum into a tree whose leaves spill). */
TLM_INLINE vi vi_chain(vi v)
{
    __asm__("" : "+v"(v));
    return v;
}
TLM_INLINE vi vi_sub(vi a, vi b) { return _mm512_sub_epi32(a, b); }
TLM_INLINE vi vi_and(vi a, vi b) { return _mm512_and_si512(a, b); }
TLM_INLINE vi vi_or(vi a, vi b) { return _mm512_or_si512(a, b); }
TLM_INLINE vi vi_shl(vi a, int n) { return _mm512_slli_epi32(a, (unsigned)n); }
TLM_INLINE vi vi_shr(vi a, int n) { return _mm512_srli_epi32(a, (unsigned)n); }
TLM_INLINE vi vi_load_u8(const uint8_t *p)
{
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}
TLM_INLINE vi vi_load_i8(const int8_t *p)
{
    return _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p));
}
TLM_INLINE vf vi_to_f32(vi v) { return _mm512_cvtepi32_ps(v); }
TLM_INLINE vbool vb_in(vi lo, vi hi, int32_t j)
{
    vi vj = _mm512_set1_epi32(j);
    return _mm512_cmple_epi32_mask(lo, vj) & _mm512_cmpgt_epi32_mask(hi, vj);
}
TLM_INLINE vbool vb_gt(vf a, vf b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
TLM_INLINE vf vf_select(vbool m, vf t, vf f) { return _mm512_mask_blend_ps(m, f, t); }
TLM_INLINE vf vf_keep(vbool m, vf v) { return _mm512_maskz_mov_ps(m, v); }
TLM_INLINE vf vf_keep_m(vmask m, vf v) { return _mm512_maskz_mov_ps(m, v); }
TLM_INLINE vf vf_mul_sigmoid(vf x, vf z) { return mul_sigmoid512(x, z); }
TLM_INLINE vf vf_max_where(vf a, vbool m, vf b) { return _mm512_mask_max_ps(a, m, a, b); }

TLM_INLINE vi vf_trunc_i32(vf v) { return _mm512_cvttps_epi32(v); }
TLM_INLINE vi vf_round_i32(vf v) { return _mm512_cvtps_epi32(v); }
TLM_INLINE int32_t vi_hsum(vi v) { return _mm512_reduce_add_epi32(v); }
TLM_INLINE void vi_store_i8(int8_t *p, vi v)
{
    _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8(v));
}
TLM_INLINE void vf_store_f16(uint16_t *p, vf v)
{
    _mm256_storeu_si256((__m256i *)p, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
TLM_INLINE void vf_store_f16_m(uint16_t *p, vf v, vmask m)
{
    _mm256_mask_storeu_epi16(p, m, _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}

TLM_INLINE void prefetch_l1(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }
TLM_INLINE void prefetch_l2(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }

#endif
