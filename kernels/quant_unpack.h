/* quant_unpack.h - reading the integer levels and scales of one GGUF block, element by element:
 * the layouts of quant.h written out as plain functions for the scalar references
 * (kernels/dequant_ref.c, kernels/qmatmul_ref.c). The SIMD kernels unpack whole vectors at a
 * time, and their tests check them against these.
 *
 * Element i of a block (0 <= i < 32 or 256) is reconstructed as
 *   Q8_0  d * qs[i]
 *   Q4_0  d * (q4_0_level(b, i) - 8)
 *   Q4_K  d * sc[s] * level - dmin * m[s],  s = i / 32, (sc, m) = k4_scale_min(scales, s)
 *   Q5_K  the same with the 5-bit level
 *   Q6_K  d * scales[i / 16] * (level - 32)
 * with d and dmin widened from f16. */
#ifndef TLM_QUANT_UNPACK_H
#define TLM_QUANT_UNPACK_H

#include <stdint.h>

#include "quant.h"

/* Q4_0: byte j holds element j in its low nibble and element j + 16 in its high nibble. */
static inline int q4_0_level(const block_q4_0 *b, int i)
{
    uint8_t byte = b->qs[i % 16];
    return i < 16 ? byte & 15 : byte >> 4;
}

/* Q4_K / Q5_K sub-block s (0..7) scale and min, 6 bits each, packed in 12 bytes: for s < 4
 * the low 6 bits of scales[s] and scales[s + 4]; for s >= 4 the low and high nibbles of
 * scales[s + 4] give their low 4 bits and the top 2 bits of scales[s - 4] and scales[s]
 * their high 2 bits. */
static inline void k4_scale_min(const uint8_t *scales, int s, int *sc, int *m)
{
    if (s < 4) {
        *sc = scales[s] & 63;
        *m = scales[s + 4] & 63;
    } else {
        *sc = (scales[s + 4] & 15) | (scales[s - 4] >> 6) << 4;
        *m = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4;
    }
}

/* Q4_K / Q5_K 4-bit part: elements come in 4 chunks of 64 sharing 32 bytes of qs; element
 * 64j + l (l < 32) is the low nibble of qs[32j + l], element 64j + 32 + l its high nibble. */
static inline int k4_low_bits(const uint8_t *qs, int i)
{
    uint8_t byte = qs[32 * (i / 64) + i % 32];
    return i % 64 < 32 ? byte & 15 : byte >> 4;
}

static inline int q4_K_level(const block_q4_K *b, int i) { return k4_low_bits(b->qs, i); }

/* Q5_K fifth bit: element 64j + l takes bit 2j of qh[l], element 64j + 32 + l bit 2j + 1. */
static inline int q5_K_level(const block_q5_K *b, int i)
{
    int bit = (b->qh[i % 32] >> (i / 32)) & 1;
    return k4_low_bits(b->qs, i) | bit << 4;
}

/* Q6_K: two halves of 128 elements, half h using ql[64h, 64h + 64) and qh[32h, 32h + 32).
 * Element 128h + 32g + l (g < 4, l < 32): low 4 bits from ql[64h + 32 (g & 1) + l] (low nibble
 * for g < 2, high for g >= 2), high 2 bits from bits 2g, 2g + 1 of qh[32h + l]. */
static inline int q6_K_level(const block_q6_K *b, int i)
{
    int h = i / 128, g = i % 128 / 32, l = i % 32;
    uint8_t lo = b->ql[64 * h + 32 * (g & 1) + l];
    int hi = (b->qh[32 * h + l] >> (2 * g)) & 3;
    return (g < 2 ? lo & 15 : lo >> 4) | hi << 4;
}

#endif
