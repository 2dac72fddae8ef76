/* simd_neon.h - inline helpers shared by the AArch64 kernel files (*_neon.c, *_dotprod.c,
 * *_i8mm.c; include only from them), and the vector API the kernel bodies (*_body.h) are
 * written in, with the names simd_avx2.h gives: VL = 4 floats in one 128-bit register.
 *
 * AdvSIMD is baseline on AArch64, and so are the conversions this header uses: FCVTL / FCVTN
 * between f16 and f32 (round to nearest even under the default FPCR), FRINTN, FDIV, FADDP.
 * AArch64 has 32 vector registers; the tiles of the files that include this are sized for
 * them. */
#ifndef TLM_SIMD_NEON_H
#define TLM_SIMD_NEON_H

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "kernels.h"

/* Forced inlining lets constant arguments (a weight type, a tile shape) specialise a body. */
#define TLM_INLINE static inline __attribute__((always_inline))

/* ---- weight rows: 4 elements of F32, F16 or BF16 widened to float ------------------------ */

/* bf16 is the high half of an f32: widening is a 16-bit shift (USHLL #16) */
TLM_INLINE float32x4_t bf16_widen(uint16x4_t h)
{
    return vreinterpretq_f32_u32(vshll_n_u16(h, 16));
}

TLM_INLINE float32x4_t f16_widen(uint16x4_t h) { return vcvt_f32_f16(vreinterpret_f16_u16(h)); }

/* Elements [k, k + 4) of a row of `type` (a constant after inlining). */
TLM_INLINE float32x4_t load_row(int type, const void *row, int64_t k)
{
    if (type == TLM_DT_F32) return vld1q_f32((const float *)row + k);
    uint16x4_t h = vld1_u16((const uint16_t *)row + k);
    return type == TLM_DT_F16 ? f16_widen(h) : bf16_widen(h);
}

/* Elements [k, k + n) with zeros above, n < 4; never reads past the row's end. */
TLM_INLINE float32x4_t load_row_tail(int type, const void *row, int64_t k, int64_t n)
{
    size_t size = type == TLM_DT_F32 ? 4 : 2;
    _Alignas(16) unsigned char tmp[16] = {0};
    memcpy(tmp, (const unsigned char *)row + k * (int64_t)size, (size_t)n * size);
    return load_row(type, tmp, 0);
}

/* p[0, n) with zeros above, n < 4. */
TLM_INLINE float32x4_t load_tail(const float *p, int64_t n)
{
    return load_row_tail(TLM_DT_F32, p, 0, n);
}

/* p[0, n) = the first n lanes of v, n <= 4; p[n, 4) is not touched. */
TLM_INLINE void store_tail(float *p, float32x4_t v, int64_t n)
{
    _Alignas(16) float tmp[4];
    vst1q_f32(tmp, v);
    memcpy(p, tmp, (size_t)n * sizeof *p);
}

/* out[0, n) = elements [0, n) of a row of `type`, as float. */
TLM_INLINE void row_to_f32(int type, float *out, const void *row, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(out + i, load_row(type, row, i));
        vst1q_f32(out + i + 4, load_row(type, row, i + 4));
    }
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, load_row(type, row, i));
    if (i < n) store_tail(out + i, load_row_tail(type, row, i, n - i), n - i);
}

/* ---- KV cache rows: F32, F16 or Q8_0 (blocks of an f16 scale and 32 int8) ------------ */

/* Row j of a cache whose rows are `stride` elements of `type` apart. */
TLM_INLINE const void *cache_row(int type, const void *base, int64_t j, int64_t stride)
{
    return (const char *)base + tlm_kv_bytes(type, (uint64_t)(j * stride));
}

/* One f16 value at p (any alignment) as float. */
TLM_INLINE float f16_at(const uint8_t *p)
{
    uint16_t h;
    memcpy(&h, p, 2);
    return vgetq_lane_f32(f16_widen(vdup_n_u16(h)), 0);
}

/* Elements [i, i + 4) of a cache row as float; Q8_0: i a multiple of 4 (within one block). */
TLM_INLINE float32x4_t load_kv(int type, const void *row, int64_t i)
{
    if (type != TLM_DT_Q8_0) return load_row(type, row, i);
    const uint8_t *b = (const uint8_t *)row + i / 32 * 34;
    int32_t four;
    memcpy(&four, b + 2 + i % 32, 4);
    int16x8_t w = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    float32x4_t q = vcvtq_f32_s32(vmovl_s16(vget_low_s16(w)));
    return vmulq_n_f32(q, f16_at(b));
}

/* The first n < 4 of those, zeros above (F32 and F16 only: Q8_0 heads are whole blocks). */
TLM_INLINE float32x4_t load_kv_tail(int type, const void *row, int64_t i, int64_t n)
{
    return type == TLM_DT_Q8_0 ? load_kv(type, row, i) : load_row_tail(type, row, i, n);
}

/* ---- reductions and math --------------------------------------------------------------- */

/* Sum of the 4 lanes, always in the same tree: (l0 + l1) + (l2 + l3) (two FADDPs). */
TLM_INLINE float hsum(float32x4_t v) { return vaddvq_f32(v); }

/* exp(x), within about 2 ulp; overflow gives +Inf, underflow 0 or a subnormal, NaN stays.
 * The algorithm of simd_avx2.h's exp256: x = n ln2 + r, exp(r) by its degree-7 Taylor
 * polynomial, times 2^n built in two exponent-field halves. */
TLM_INLINE float32x4_t exp128(float32x4_t x)
{
    /* FMAX / FMIN return NaN when x is NaN, so NaN stays */
    x = vminq_f32(vdupq_n_f32(89.0f), vmaxq_f32(vdupq_n_f32(-104.0f), x));
    float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
    /* ln2 in two parts: n * ln2_hi is exact, so r keeps its low bits */
    float32x4_t r = vfmsq_n_f32(x, n, 0.693145751953125f);
    r = vfmsq_n_f32(r, n, 1.428606820309417232e-6f);
    float32x4_t p = vdupq_n_f32(1.0f / 5040);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 720), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 120), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 24), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f / 6), p, r);
    p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    int32x4_t ni = vcvtq_s32_f32(n); /* n is integral: truncation is exact */
    int32x4_t n1 = vshrq_n_s32(ni, 1), n2 = vsubq_s32(ni, n1);
    int32x4_t bias = vdupq_n_s32(127);
    float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

/* x * sigmoid(z) = x / (1 + exp(-z)); exp overflowing to Inf gives the right limit (+-0). */
TLM_INLINE float32x4_t mul_sigmoid128(float32x4_t x, float32x4_t z)
{
    float32x4_t e = exp128(vnegq_f32(z));
    return vdivq_f32(x, vaddq_f32(vdupq_n_f32(1.0f), e));
}

/* ---- the vector API the kernel bodies (*_body.h) are written in -------------------------
 * The names of simd_avx2.h: vf (VL floats), vmask (the first lanes of a vector, a lane count
 * as AVX2's), vbool (a per-lane predicate), vi (VL int32), TLM_ISA_FN(name) = name_<isa>.
 * A dot-product or i8mm file defines TLM_ISA_FN before including this header. */

#define VL 4
#ifndef TLM_ISA_FN
#define TLM_ISA_FN(name) name##_neon
#endif
typedef float32x4_t vf;
typedef int32x4_t vi;
typedef uint32x4_t vbool;
typedef int vmask;

TLM_INLINE vf vf_zero(void) { return vdupq_n_f32(0.0f); }
TLM_INLINE vf vf_set1(float x) { return vdupq_n_f32(x); }
TLM_INLINE vf vf_load(const float *p) { return vld1q_f32(p); }
TLM_INLINE void vf_store(float *p, vf v) { vst1q_f32(p, v); }
TLM_INLINE vf vf_add(vf a, vf b) { return vaddq_f32(a, b); }
TLM_INLINE vf vf_sub(vf a, vf b) { return vsubq_f32(a, b); }
TLM_INLINE vf vf_mul(vf a, vf b) { return vmulq_f32(a, b); }
TLM_INLINE vf vf_div(vf a, vf b) { return vdivq_f32(a, b); }
TLM_INLINE vf vf_fma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); } /* a b + c */
/* a > b ? a : b and a < b ? a : b, lane by lane (so a NaN a gives b), as x86's max/min;
 * FMAX would give NaN for either NaN operand. */
TLM_INLINE vf vf_max(vf a, vf b) { return vbslq_f32(vcgtq_f32(a, b), a, b); }
TLM_INLINE vf vf_min(vf a, vf b) { return vbslq_f32(vcltq_f32(a, b), a, b); }
TLM_INLINE vf vf_abs(vf v) { return vabsq_f32(v); }
TLM_INLINE float vf_hsum(vf v) { return hsum(v); }
TLM_INLINE float vf_hmax(vf v) { return vmaxnmvq_f32(v); } /* of lanes that are not NaN */
TLM_INLINE vf vf_exp(vf v) { return exp128(v); }

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
/* Lanes m of elements [i, i + VL) of a KV cache row (load_kv) as float. */
TLM_INLINE vf vf_load_kv(int type, const void *row, int64_t i, vmask m)
{
    return m == VL ? load_kv(type, row, i) : load_kv_tail(type, row, i, m);
}

TLM_INLINE vi vi_load(const int32_t *p) { return vld1q_s32(p); }
TLM_INLINE vi vi_set1(int32_t x) { return vdupq_n_s32(x); }
TLM_INLINE vi vi_add(vi a, vi b) { return vaddq_s32(a, b); }
/* v unchanged, but opaque to the compiler: a running sum stays a chain of adds (GCC would
 * otherwise reassociate a long sum into a tree whose leaves spill). */
TLM_INLINE vi vi_chain(vi v)
{
    __asm__("" : "+w"(v));
    return v;
}
TLM_INLINE vi vi_sub(vi a, vi b) { return vsubq_s32(a, b); }
TLM_INLINE vi vi_and(vi a, vi b) { return vandq_s32(a, b); }
TLM_INLINE vi vi_or(vi a, vi b) { return vorrq_s32(a, b); }
TLM_INLINE vi vi_shl(vi a, int n) { return vshlq_s32(a, vdupq_n_s32(n)); }
TLM_INLINE vi vi_shr(vi a, int n) /* logical */
{
    return vreinterpretq_s32_u32(vshlq_u32(vreinterpretq_u32_s32(a), vdupq_n_s32(-n)));
}
/* VL bytes at p, zero- or sign-extended to int32 lanes */
TLM_INLINE vi vi_load_u8(const uint8_t *p)
{
    uint32_t four;
    memcpy(&four, p, 4);
    uint16x8_t w = vmovl_u8(vreinterpret_u8_u32(vdup_n_u32(four)));
    return vreinterpretq_s32_u32(vmovl_u16(vget_low_u16(w)));
}
TLM_INLINE vi vi_load_i8(const int8_t *p)
{
    int32_t four;
    memcpy(&four, p, 4);
    int16x8_t w = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(four)));
    return vmovl_s16(vget_low_s16(w));
}
TLM_INLINE vf vi_to_f32(vi v) { return vcvtq_f32_s32(v); }
/* lanes with lo <= j < hi */
TLM_INLINE vbool vb_in(vi lo, vi hi, int32_t j)
{
    vi vj = vdupq_n_s32(j);
    return vandq_u32(vcleq_s32(lo, vj), vcgtq_s32(hi, vj));
}
TLM_INLINE vbool vb_gt(vf a, vf b) { return vcgtq_f32(a, b); }
TLM_INLINE vf vf_select(vbool m, vf t, vf f) { return vbslq_f32(m, t, f); }
TLM_INLINE vf vf_keep(vbool m, vf v) /* 0 outside m */
{
    return vreinterpretq_f32_u32(vandq_u32(m, vreinterpretq_u32_f32(v)));
}
TLM_INLINE vf vf_keep_m(vmask m, vf v) /* 0 in the lanes past m */
{
    static const int32_t lanes[VL] = {0, 1, 2, 3};
    return vf_keep(vcgtq_s32(vdupq_n_s32(m), vld1q_s32(lanes)), v);
}
TLM_INLINE vf vf_mul_sigmoid(vf x, vf z) { return mul_sigmoid128(x, z); } /* x / (1 + e^-z) */
/* m ? max(a, b) : a */
TLM_INLINE vf vf_max_where(vf a, vbool m, vf b) { return vf_select(m, vf_max(a, b), a); }

/* Rounds to int32 toward zero; to int8 (values already in [-128, 127]), VL bytes. */
TLM_INLINE vi vf_trunc_i32(vf v) { return vcvtq_s32_f32(v); }
TLM_INLINE vi vf_round_i32(vf v) { return vcvtnq_s32_f32(v); } /* to nearest even */
TLM_INLINE int32_t vi_hsum(vi v) { return vaddvq_s32(v); }
TLM_INLINE void vi_store_i8(int8_t *p, vi v)
{
    int8x8_t b = vqmovn_s16(vcombine_s16(vqmovn_s32(v), vdup_n_s16(0)));
    vst1_lane_s32((int32_t *)(void *)p, vreinterpret_s32_s8(b), 0);
}
/* VL floats to f16, rounded to nearest even (NaN stays NaN, quiet). */
TLM_INLINE void vf_store_f16(uint16_t *p, vf v)
{
    vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v)));
}
TLM_INLINE void vf_store_f16_m(uint16_t *p, vf v, vmask m)
{
    _Alignas(8) uint16_t tmp[VL];
    vf_store_f16(tmp, v);
    memcpy(p, tmp, (size_t)m * sizeof *p);
}

TLM_INLINE void prefetch_l1(const void *p) { __builtin_prefetch(p, 0, 3); }
TLM_INLINE void prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }

#endif
