/* simd_avx2.h - inline helpers shared by the _avx2 kernel files (include only from them: it
 * needs their -mavx2 -mfma -mf16c flags). */
#ifndef TLM_SIMD_AVX2_H
#define TLM_SIMD_AVX2_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* Forced inlining lets constant arguments (a weight type, a tile shape) specialise a body. */
#define TLM_INLINE static inline __attribute__((always_inline))

/* ---- weight rows: 8 elements of F32, F16 or BF16 widened to float ------------------------ */

/* bf16 is the high half of an f32: widening is a 16-bit shift */
TLM_INLINE __m256 bf16_widen(__m128i h)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

/* Elements [k, k + 8) of a row of `type` (a constant after inlining). */
TLM_INLINE __m256 load_row(int type, const void *row, int64_t k)
{
    if (type == TLM_DT_F32) return _mm256_loadu_ps((const float *)row + k);
    __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)row + k));
    return type == TLM_DT_F16 ? _mm256_cvtph_ps(h) : bf16_widen(h);
}

/* Elements [k, k + n) with zeros above, n < 8; never reads past the row's end. AVX2 has no
 * 16-bit masked load, so the tail goes through a zeroed copy. */
TLM_INLINE __m256 load_row_tail(int type, const void *row, int64_t k, int64_t n)
{
    size_t size = type == TLM_DT_F32 ? 4 : 2;
    _Alignas(32) unsigned char tmp[32] = {0};
    memcpy(tmp, (const unsigned char *)row + k * (int64_t)size, (size_t)n * size);
    return load_row(type, tmp, 0);
}

/* p[0, n) with zeros above, n < 8. */
TLM_INLINE __m256 load_tail(const float *p, int64_t n)
{
    return load_row_tail(TLM_DT_F32, p, 0, n);
}

/* p[0, n) = the first n lanes of v, n <= 8; p[n, 8) is not touched. */
TLM_INLINE void store_tail(float *p, __m256 v, int64_t n)
{
    _Alignas(32) float tmp[8];
    _mm256_store_ps(tmp, v);
    memcpy(p, tmp, (size_t)n * sizeof *p);
}

/* out[0, n) = elements [0, n) of a row of `type`, as float. */
TLM_INLINE void row_to_f32(int type, float *out, const void *row, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, load_row(type, row, i));
    if (i < n) store_tail(out + i, load_row_tail(type, row, i, n - i), n - i);
}

/* ---- KV cache rows: F32, F16 or Q8_0 (blocks of an f16 scale and 32 int8) ------------ */

/* Row j of a cache whose rows are `stride` elements of `type` apart. */
TLM_INLINE const void *cache_row(int type, const void *base, int64_t j, int64_t stride)
{
    return (const char *)base + tlm_kv_bytes(type, (uint64_t)(j * stride));
}

/* Elements [i, i + 8) of a cache row as float; Q8_0: i a multiple of 8 (within one block). */
TLM_INLINE __m256 load_kv(int type, const void *row, int64_t i)
{
    if (type != TLM_DT_Q8_0) return load_row(type, row, i);
    const uint8_t *b = (const uint8_t *)row + i / 32 * 34;
    __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(b + 2 + i % 32)));
    float d = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(b[0] | b[1] << 8)));
    return _mm256_mul_ps(_mm256_cvtepi32_ps(q), _mm256_set1_ps(d));
}

/* The first n < 8 of those, zeros above (F32 and F16 only: Q8_0 heads are whole blocks). */
TLM_INLINE __m256 load_kv_tail(int type, const void *row, int64_t i, int64_t n)
{
    return type == TLM_DT_Q8_0 ? load_kv(type, row, i) : load_row_tail(type, row, i, n);
}

/* ---- reductions and math --------------------------------------------------------------- */

/* Sum of the 8 lanes, always in the same tree: halves, quarters, then the pair. */
TLM_INLINE float hsum(__m256 v)
{
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    return _mm_cvtss_f32(_mm_add_ss(s2, _mm_movehdup_ps(s2)));
}

/* exp(x), within about 2 ulp; overflow gives +Inf, underflow 0 or a subnormal, NaN stays.
 * x = n ln2 + r with |r| <= ln2/2, exp(r) by its degree-7 Taylor polynomial (truncation
 * error below 1e-8), times 2^n built in two exponent-field halves so that n down to -150
 * (subnormal results) and up to 129 (overflow to Inf) need no special case. */
TLM_INLINE __m256 exp256(__m256 x)
{
    /* exp saturates outside [-104, 89]; max(lo, x) and min(hi, .) return x when it is NaN */
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), _mm256_max_ps(_mm256_set1_ps(-104.0f), x));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln2 in two parts: n * ln2_hi is exact, so r keeps its low bits */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606820309417232e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* x * sigmoid(z) = x / (1 + exp(-z)); exp overflowing to Inf gives the right limit (+-0). */
TLM_INLINE __m256 mul_sigmoid256(__m256 x, __m256 z)
{
    __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), z));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

/* ---- the vector API the kernel bodies (*_body.h) are written in -------------------------
 * Every ISA header gives the same names: vf (VL floats), vmask (the first lanes of a vector;
 * AVX2 has no masked 16-bit loads, so here it is a lane count), vbool (a per-lane predicate),
 * vi (VL int32) and TLM_ISA_FN(name) = name_<isa>. A NEON header can give them all. */

#define VL 8
#define TLM_ISA_FN(name) name##_avx2
typedef __m256 vf;
typedef __m256i vi;
typedef __m256 vbool;
typedef int vmask;

TLM_INLINE vf vf_zero(void) { return _mm256_setzero_ps(); }
TLM_INLINE vf vf_set1(float x) { return _mm256_set1_ps(x); }
TLM_INLINE vf vf_load(const float *p) { return _mm256_loadu_ps(p); }
TLM_INLINE void vf_store(float *p, vf v) { _mm256_storeu_ps(p, v); }
TLM_INLINE vf vf_add(vf a, vf b) { return _mm256_add_ps(a, b); }
TLM_INLINE vf vf_sub(vf a, vf b) { return _mm256_sub_ps(a, b); }
TLM_INLINE vf vf_mul(vf a, vf b) { return _mm256_mul_ps(a, b); }
TLM_INLINE vf vf_div(vf a, vf b) { return _mm256_div_ps(a, b); }
TLM_INLINE vf vf_fma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); } /* a b + c */
/* a > b ? a : b and a < b ? a : b, lane by lane (so a NaN a gives b) */
TLM_INLINE vf vf_max(vf a, vf b) { return _mm256_max_ps(a, b); }
TLM_INLINE vf vf_min(vf a, vf b) { return _mm256_min_ps(a, b); }
TLM_INLINE vf vf_abs(vf v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
TLM_INLINE float vf_hsum(vf v) { return hsum(v); }
TLM_INLINE float vf_hmax(vf v) /* of lanes that are not NaN */
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    return _mm_cvtss_f32(_mm_max_ss(m, _mm_movehdup_ps(m)));
}
TLM_INLINE vf vf_exp(vf v) { return exp256(v); }

TLM_INLINE vmask vmask_n(int64_t n) { return (vmask)n; } /* lanes [0, n), n <= VL */
TLM_INLINE vmask vmask_all(void) { return VL; }
/* lanes m of p, zeros above; never reads past them */
TLM_INLINE vf vf_load_m(const float *p, vmask m) { return m == VL ? vf_load(p) : load_tail(p, m); }
TLM_INLINE void vf_store_m(float *p, vf v, vmask m)
{
    if (m == VL)
        vf_store(p, v);
    else
        store_tail(p, v, m);
}
/* Lanes m of elements [i, i + VL) of a KV cache row (simd: load_kv) as float. */
TLM_INLINE vf vf_load_kv(int type, const void *row, int64_t i, vmask m)
{
    return m == VL ? load_kv(type, row, i) : load_kv_tail(type, row, i, m);
}

TLM_INLINE vi vi_load(const int32_t *p) { return _mm256_loadu_si256((const __m256i *)p); }
TLM_INLINE vi vi_set1(int32_t x) { return _mm256_set1_epi32(x); }
TLM_INLINE vi vi_add(vi a, vi b) { return _mm256_add_epi32(a, b); }
/* v unchanged, but opaque to the compiler: a running sum stays a chain of adds (GCC would
 * otherwise reassociate a long sum into a tree whose leaves spill). */
TLM_INLINE vi vi_chain(vi v)
{
    __asm__("" : "+x"(v));
    return v;
}
TLM_INLINE vi vi_sub(vi a, vi b) { return _mm256_sub_epi32(a, b); }
TLM_INLINE vi vi_and(vi a, vi b) { return _mm256_and_si256(a, b); }
TLM_INLINE vi vi_or(vi a, vi b) { return _mm256_or_si256(a, b); }
TLM_INLINE vi vi_shl(vi a, int n) { return _mm256_slli_epi32(a, n); }
TLM_INLINE vi vi_shr(vi a, int n) { return _mm256_srli_epi32(a, n); } /* logical */
/* VL bytes at p, zero- or sign-extended to int32 lanes */
TLM_INLINE vi vi_load_u8(const uint8_t *p)
{
    return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
TLM_INLINE vi vi_load_i8(const int8_t *p)
{
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p));
}
TLM_INLINE vf vi_to_f32(vi v) { return _mm256_cvtepi32_ps(v); }
/* lanes with lo <= j < hi */
TLM_INLINE vbool vb_in(vi lo, vi hi, int32_t j)
{
    vi vj = _mm256_set1_epi32(j);
    return _mm256_castsi256_ps(
        _mm256_andnot_si256(_mm256_cmpgt_epi32(lo, vj), _mm256_cmpgt_epi32(hi, vj)));
}
TLM_INLINE vbool vb_gt(vf a, vf b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
TLM_INLINE vf vf_select(vbool m, vf t, vf f) { return _mm256_blendv_ps(f, t, m); }
TLM_INLINE vf vf_keep(vbool m, vf v) { return _mm256_and_ps(m, v); } /* 0 outside m */
TLM_INLINE vf vf_keep_m(vmask m, vf v)                               /* 0 in the lanes past m */
{
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_set1_epi32(m), lanes)), v);
}
TLM_INLINE vf vf_mul_sigmoid(vf x, vf z) { return mul_sigmoid256(x, z); } /* x / (1 + e^-z) */
/* m ? max(a, b) : a */
TLM_INLINE vf vf_max_where(vf a, vbool m, vf b) { return vf_select(m, vf_max(a, b), a); }

/* Rounds to int32 toward zero; to int8 (values already in [-128, 127]), VL bytes. */
TLM_INLINE vi vf_trunc_i32(vf v) { return _mm256_cvttps_epi32(v); }
TLM_INLINE vi vf_round_i32(vf v) { return _mm256_cvtps_epi32(v); } /* to nearest even */
TLM_INLINE int32_t vi_hsum(vi v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1)));
}
TLM_INLINE void vi_store_i8(int8_t *p, vi v)
{
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    _mm_storel_epi64((__m128i *)p, _mm_packs_epi16(w, w));
}
/* VL floats to f16, rounded to nearest even (NaN stays NaN, quiet). */
TLM_INLINE void vf_store_f16(uint16_t *p, vf v)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
TLM_INLINE void vf_store_f16_m(uint16_t *p, vf v, vmask m)
{
    _Alignas(16) uint16_t tmp[VL];
    vf_store_f16(tmp, v);
    memcpy(p, tmp, (size_t)m * sizeof *p);
}

TLM_INLINE void prefetch_l1(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }
TLM_INLINE void prefetch_l2(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T1); }

#endif
