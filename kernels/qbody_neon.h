/* qbody_neon.h - the vector API of qmatmul_b32_body.h (b32_*) and qmatmul_lowk_body.h (lowk_*)
 * on AArch64, for qmatmul_{b32,lowk}_{neon,dotprod}.c; each includes simd_neon.h, defines
 * QMATMUL_FN (and QDOT_SDOT for the dot-product level), then this, then its body.
 *
 * VL = 4 int32 lanes (one 128-bit register), so a group of 16 rows is 4 vectors. The levels
 * are signed bytes at both levels (B32_IQ4_BIAS = LOWK_IQ4_BIAS = 0: Q4_1..Q5_1 0..31, Q2_K
 * 0..3, Q3_K 0..7, the IQ4 codebook -127..113 all fit), so the 4-byte dot is signed by signed:
 * SDOT, or SMULL / SMULL2, ADDP into 16-bit pairs and SADALP. A pair is at most 2 * 127 * 127
 * < 2^15 (the activations are within [-127, 127]), so every sum is exact. NEON has no gather:
 * 4 scalar dword loads (memcpy, any alignment). */
#ifndef TLM_QBODY_NEON_H
#define TLM_QBODY_NEON_H

#include <arm_neon.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "quant.h"

#define B32_IQ4_BIAS 0
#define LOWK_IQ4_BIAS 0

enum { B32_NR = 6 }; /* tokens per b32 tile: 6 sums and 6 accumulators of 32 registers */
/* tokens per b32 small-batch pass (its gemm, where the body has one): 8 float sums, 8 integer
 * sums and a unit's 10 vectors of 32 registers */
enum { B32_NB = 8 };
/* tokens per lowk small-batch pass (where the body has one): 8 float sums, 8 integer sums, a
 * sub-block's 4 level entries and the header's dwords of 32 registers */
enum { LOWK_NB = 8 };

/* acc + per int32 lane the sum of its 4 signed level bytes times the 4 signed bytes x4. */
TLM_INLINE int32x4_t qn_dot4(int32x4_t acc, int32x4_t w, int32_t x4)
{
    const int8x16_t wb = vreinterpretq_s8_s32(w), xb = vreinterpretq_s8_s32(vdupq_n_s32(x4));
#if defined(QDOT_SDOT)
    return vdotq_s32(acc, wb, xb);
#else
    const int16x8_t lo = vmull_s8(vget_low_s8(wb), vget_low_s8(xb));
    const int16x8_t hi = vmull_high_s8(wb, xb);
    return vpadalq_s16(acc, vpaddq_s16(lo, hi)); /* pairs, then pairs of pairs */
#endif
}

/* The dword at base + off[lane], lane by lane. */
TLM_INLINE int32x4_t qn_gather(const char *base, int32x4_t off)
{
    int32_t v[4];
    memcpy(&v[0], base + vgetq_lane_s32(off, 0), 4);
    memcpy(&v[1], base + vgetq_lane_s32(off, 1), 4);
    memcpy(&v[2], base + vgetq_lane_s32(off, 2), 4);
    memcpy(&v[3], base + vgetq_lane_s32(off, 3), 4);
    return vld1q_s32(v);
}

/* 16 bytes at p (any alignment), and back. */
TLM_INLINE int32x4_t qn_load(const char *p)
{
    return vreinterpretq_s32_u8(vld1q_u8((const uint8_t *)p));
}
TLM_INLINE void qn_store(char *p, int32x4_t v) { vst1q_u8((uint8_t *)p, vreinterpretq_u8_s32(v)); }

/* The low 16 bits of each lane, an f16, as float (FCVTL: exact, subnormals included). */
TLM_INLINE float32x4_t qn_f16_lo(int32x4_t v)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vmovn_u32(vreinterpretq_u32_s32(v))));
}

/* 4 f16 at p (any alignment) as float. */
TLM_INLINE float32x4_t qn_cvtph(const char *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8((const uint8_t *)p)));
}

/* ---- qmatmul_b32_body.h ------------------------------------------------------------------ */

TLM_INLINE int32x4_t b32_dot4(int32x4_t acc, int32x4_t w, const int8_t *x, bool sgn)
{
    (void)sgn; /* signed by signed always */
    int32_t x4;
    memcpy(&x4, x, 4);
    return qn_dot4(acc, w, x4);
}

TLM_INLINE int32x4_t b32_bytes(int c) { return vreinterpretq_s32_u8(vdupq_n_u8((uint8_t)c)); }
TLM_INLINE int32x4_t b32_set4(int a, int b, int c, int d)
{
    const int32_t v[4] = {a, b, c, d};
    return vld1q_s32(v);
}
TLM_INLINE int32x4_t b32_load(const char *p) { return qn_load(p); }
TLM_INLINE void b32_store(char *p, int32x4_t v) { qn_store(p, v); }
TLM_INLINE int32x4_t b32_castf(float32x4_t v) { return vreinterpretq_s32_f32(v); }
/* TBL gives 0 for an index past 15 where pshufb looks at bit 7; the body's indices are
 * 0..15 (nibbles, byte positions), where the two agree. */
TLM_INLINE int32x4_t b32_shuffle(int32x4_t v, int32x4_t idx)
{
    return vreinterpretq_s32_u8(vqtbl1q_u8(vreinterpretq_u8_s32(v), vreinterpretq_u8_s32(idx)));
}
TLM_INLINE int32x4_t b32_min_u8(int32x4_t a, int32x4_t b)
{
    return vreinterpretq_s32_u8(vminq_u8(vreinterpretq_u8_s32(a), vreinterpretq_u8_s32(b)));
}
TLM_INLINE int32x4_t b32_shl16(int32x4_t v, int n)
{
    return vreinterpretq_s32_u16(vshlq_u16(vreinterpretq_u16_s32(v), vdupq_n_s16((int16_t)n)));
}
TLM_INLINE int32x4_t b32_gather(const char *base, int32x4_t idx) { return qn_gather(base, idx); }
TLM_INLINE float32x4_t b32_f16_lo(int32x4_t v) { return qn_f16_lo(v); }
TLM_INLINE float32x4_t b32_f16_hi(int32x4_t v)
{
    return qn_f16_lo(vreinterpretq_s32_u32(vshrq_n_u32(vreinterpretq_u32_s32(v), 16)));
}
TLM_INLINE float32x4_t b32_cvtph(const char *p) { return qn_cvtph(p); }

/* ---- qmatmul_lowk_body.h ----------------------------------------------------------------- */

TLM_INLINE int32x4_t lowk_dot4(int32x4_t acc, int32x4_t w, int32_t x4)
{
    return qn_dot4(acc, w, x4);
}
TLM_INLINE int32x4_t lowk_mul(int32x4_t a, int32x4_t b) { return vmulq_s32(a, b); }
TLM_INLINE int32x4_t lowk_gather(const char *p, int32x4_t off) { return qn_gather(p, off); }
TLM_INLINE void lowk_store(char *p, int32x4_t v) { qn_store(p, v); }
TLM_INLINE float32x4_t lowk_f16_lo(int32x4_t v) { return qn_f16_lo(v); }
TLM_INLINE int32x4_t lowk_iq4(int32x4_t nib) /* bytes 0..15 to the codebook (TBL) */
{
    return vreinterpretq_s32_s8(vqtbl1q_s8(vld1q_s8(tlm_iq4_values), vreinterpretq_u8_s32(nib)));
}
/* acc + per lane its two signed 16-bit halves times those of x2 (SMULL / SMULL2, ADDP) */
TLM_INLINE int32x4_t lowk_dot16x2(int32x4_t acc, int32x4_t w, int32_t x2)
{
    const int16x8_t wh = vreinterpretq_s16_s32(w), xh = vreinterpretq_s16_s32(vdupq_n_s32(x2));
    const int32x4_t lo = vmull_s16(vget_low_s16(wh), vget_low_s16(xh));
    return vaddq_s32(acc, vpaddq_s32(lo, vmull_high_s16(wh, xh)));
}
TLM_INLINE int32x4_t lowk_load_u16(const char *p) /* 4 u16, zero-extended */
{
    return vreinterpretq_s32_u32(vmovl_u16(vreinterpret_u16_u8(vld1_u8((const uint8_t *)p))));
}

#endif
