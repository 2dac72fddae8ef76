/* quant_unpack_neon.h - the levels of one GGUF block as int8 vectors, on AArch64: the layouts of
 * quant_unpack.h read 16 elements at a time (include after simd_neon.h). Shared by the
 * quantized matmuls (qmatmul_neon_body.h) and to_f32 (dequant_neon.c). */
#ifndef TLM_QUANT_UNPACK_NEON_H
#define TLM_QUANT_UNPACK_NEON_H

#include "quant.h"
#include "quant_unpack.h"

/* Q4_0: w[0] elements 0..15 (low nibbles), w[1] 16..31 (high), levels 0..15 (not - 8). */
TLM_INLINE void unpack_q4_0(int8x16_t w[2], const block_q4_0 *b)
{
    uint8x16_t v = vld1q_u8(b->qs);
    w[0] = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15)));
    w[1] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
}

/* Q4_K (qh NULL) / Q5_K: w[2s], w[2s + 1] = sub-block s (elements 32s .. 32s + 31), levels
 * 0..15 / 0..31. */
TLM_INLINE void unpack_k4(int8x16_t w[16], const uint8_t *qs, const uint8_t *qh)
{
    uint8x16_t h0 = vdupq_n_u8(0), h1 = h0;
    if (qh) h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        uint8x16_t a = vld1q_u8(qs + 32 * j), b = vld1q_u8(qs + 32 * j + 16);
        uint8x16_t l0 = vandq_u8(a, vdupq_n_u8(15)), l1 = vandq_u8(b, vdupq_n_u8(15));
        uint8x16_t u0 = vshrq_n_u8(a, 4), u1 = vshrq_n_u8(b, 4);
        if (qh) { /* the fifth bit: bit 2j of qh[l] for the low half, 2j + 1 for the high */
            uint8x16_t lo_bit = vdupq_n_u8((uint8_t)(1u << (2 * j)));
            uint8x16_t hi_bit = vdupq_n_u8((uint8_t)(2u << (2 * j))), v16 = vdupq_n_u8(16);
            l0 = vorrq_u8(l0, vandq_u8(vtstq_u8(h0, lo_bit), v16));
            l1 = vorrq_u8(l1, vandq_u8(vtstq_u8(h1, lo_bit), v16));
            u0 = vorrq_u8(u0, vandq_u8(vtstq_u8(h0, hi_bit), v16));
            u1 = vorrq_u8(u1, vandq_u8(vtstq_u8(h1, hi_bit), v16));
        }
        w[4 * j] = vreinterpretq_s8_u8(l0), w[4 * j + 1] = vreinterpretq_s8_u8(l1);
        w[4 * j + 2] = vreinterpretq_s8_u8(u0), w[4 * j + 3] = vreinterpretq_s8_u8(u1);
    }
}

/* Q6_K: w[s] = sub-block s (elements 16s .. 16s + 15), levels - 32 (-32..31). */
TLM_INLINE void unpack_q6_K(int8x16_t w[16], const block_q6_K *b)
{
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        uint8x16_t ql[4], qh[2];
        for (int i = 0; i < 4; i++)
            ql[i] = vld1q_u8(b->ql + 64 * h + 16 * i);
        qh[0] = vld1q_u8(b->qh + 32 * h), qh[1] = vld1q_u8(b->qh + 32 * h + 16);
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++)
#pragma GCC unroll 2
            for (int half = 0; half < 2; half++) { /* l in [16 half, 16 half + 16) */
                uint8x16_t lo = ql[2 * (g & 1) + half];
                lo = g < 2 ? vandq_u8(lo, vdupq_n_u8(15)) : vshrq_n_u8(lo, 4);
                uint8x16_t hi = vshlq_u8(qh[half], vdupq_n_s8((int8_t)(-2 * g)));
                hi = vshlq_n_u8(vandq_u8(hi, vdupq_n_u8(3)), 4);
                int8x16_t level = vreinterpretq_s8_u8(vorrq_u8(lo, hi));
                w[8 * h + 2 * g + half] = vsubq_s8(level, vdupq_n_s8(32));
            }
    }
}

#endif
