/* quant_b32.h - the 32-element block types Q4_1, Q5_0, Q5_1 and IQ4_NL: block layouts exactly
 * as GGUF stores them (ggml-common.h) and each element's level, for the scalar references.
 *
 * Element i of a block (0 <= i < 32), with d and m widened from f16:
 *   Q4_1    d * q + m              q 4-bit, 0..15
 *   Q5_0    d * (q - 16)           q 5-bit, 0..31
 *   Q5_1    d * q + m              q 5-bit, 0..31
 *   IQ4_NL  d * kv[q]              q 4-bit index into the 16-entry codebook kv
 * The 4-bit parts are placed as Q4_0's: byte j of qs holds element j in its low nibble and
 * element j + 16 in its high nibble. The fifth bit of element i (Q5_0, Q5_1) is bit i of qh
 * read as a little-endian 32-bit word. */
#ifndef TLM_QUANT_B32_H
#define TLM_QUANT_B32_H

#include <stdint.h>

#include "ktypes.h"
#include "quant_lowk.h" /* tlm_iq4_values, the codebook IQ4_NL shares with IQ4_XS */

#define QK_B32 32

typedef struct {
    uint16_t d, m; /* f16 scale and min */
    uint8_t qs[16];
} block_q4_1;

typedef struct {
    uint16_t d;
    uint8_t qh[4]; /* fifth bits, little-endian */
    uint8_t qs[16];
} block_q5_0;

typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[16];
} block_q5_1;

typedef struct {
    uint16_t d;
    uint8_t qs[16]; /* codebook indices */
} block_iq4_nl;

_Static_assert(sizeof(block_q4_1) == 20, "Q4_1 block");
_Static_assert(sizeof(block_q5_0) == 22, "Q5_0 block");
_Static_assert(sizeof(block_q5_1) == 24, "Q5_1 block");
_Static_assert(sizeof(block_iq4_nl) == 18, "IQ4_NL block");

/* The 4-bit part of element i. */
static inline int b32_nibble(const uint8_t *qs, int i)
{
    return i < 16 ? qs[i] & 15 : qs[i - 16] >> 4;
}

/* The fifth bit of element i. */
static inline int b32_bit5(const uint8_t *qh, int i)
{
    uint32_t h =
        (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
    return (int)(h >> i) & 1;
}

/* The integer each element is a multiple of d of (before Q4_1 / Q5_1's + m). */
static inline int b32_level(int type, const void *block, int i)
{
    switch (type) {
    case TLM_DT_Q4_1: {
        const block_q4_1 *b = block;
        return b32_nibble(b->qs, i);
    }
    case TLM_DT_Q5_0: {
        const block_q5_0 *b = block;
        return (b32_nibble(b->qs, i) | b32_bit5(b->qh, i) << 4) - 16;
    }
    case TLM_DT_Q5_1: {
        const block_q5_1 *b = block;
        return b32_nibble(b->qs, i) | b32_bit5(b->qh, i) << 4;
    }
    default: { /* TLM_DT_IQ4_NL */
        const block_iq4_nl *b = block;
        return tlm_iq4_values[b32_nibble(b->qs, i)];
    }
    }
}

#endif
