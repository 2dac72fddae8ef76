/* quant_lowk.h - the low-bit super-block types Q2_K, Q3_K and IQ4_XS: block layouts exactly as
 * GGUF stores them (256 elements per block) and one common form every kernel reads them in.
 *
 * Element i of a block is, with d and dmin widened from f16:
 *   Q2_K    (d * sc_s) * q - dmin * m_s     s = i / 16; scales[s] = sc_s | m_s << 4 (4 bits
 *                                           each); q 2-bit, 0..3
 *   Q3_K    (d * (sc_s - 32)) * (q - 4 h)   s = i / 16; sc_s 6-bit (below); q 2-bit low part,
 *                                           h = 1 where the element's hmask bit is clear
 *   IQ4_XS  (d * (ls_b - 32)) * kv[q]       b = i / 32; ls_b 6-bit (low 4 bits in scales_l,
 *                                           high 2 in scales_h); kv the 16-entry codebook
 * The 2-bit fields of Q2_K and Q3_K: element 128h + 32g + l (g < 4, l < 32) is bits 2g, 2g + 1
 * of qs[32h + l]; Q3_K's hmask bit for it is bit 4h + g of hmask[l]. IQ4_XS element 32b + l is
 * the low nibble of qs[16b + l] for l < 16, the high nibble of qs[16b + l - 16] above. */
#ifndef TLM_QUANT_LOWK_H
#define TLM_QUANT_LOWK_H

#include <stdint.h>

#include "ktypes.h"

typedef struct {
    uint8_t scales[16]; /* low nibble: scale, high nibble: min, per 16 elements */
    uint8_t qs[64];
    uint16_t d;    /* f16 scale of the scales */
    uint16_t dmin; /* f16 scale of the mins */
} block_q2_K;

typedef struct {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12]; /* 16 scales of 6 bits, biased by 32 */
    uint16_t d;
} block_q3_K;

typedef struct {
    uint16_t d;
    uint16_t scales_h;   /* 8 x 2 high bits of the 6-bit scales */
    uint8_t scales_l[4]; /* 8 x 4 low bits */
    uint8_t qs[128];
} block_iq4_xs;

_Static_assert(sizeof(block_q2_K) == 84, "Q2_K block");
_Static_assert(sizeof(block_q3_K) == 110, "Q3_K block");
_Static_assert(sizeof(block_iq4_xs) == 136, "IQ4_XS block");

/* The non-linear 4-bit codebook of IQ4_NL and IQ4_XS (GGUF's kvalues_iq4nl). */
static const int8_t tlm_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                          1,    13,   25,  38,  53,  69,  89,  113};

/* The index of the codebook value nearest v; on a tie the larger value (as GGUF's
 * best_index_int8). Both IQ4 quantizers round through it. */
static inline int tlm_iq4_nearest(float v)
{
    const int8_t *kv = tlm_iq4_values;
    if (v <= kv[0]) return 0;
    if (v >= kv[15]) return 15;
    int lo = 0, hi = 15;
    while (hi - lo > 1) {
        int mid = (lo + hi) / 2;
        if (v < kv[mid])
            hi = mid;
        else
            lo = mid;
    }
    return v - kv[hi - 1] < kv[hi] - v ? hi - 1 : hi;
}

/* One block in the form the kernels share: element i = (d * sc[i / 16]) * w[i] - dmin * m[i / 16],
 * the min part only for Q2_K (has_min). IQ4_XS's 32-element scales appear twice. */
typedef struct tlm_lowk_unit {
    int8_t w[256];    /* Q2_K 0..3, Q3_K -4..3, IQ4_XS a codebook value */
    int8_t sc[16];    /* Q2_K 0..15, Q3_K and IQ4_XS -32..31 */
    int8_t m[16];     /* Q2_K 0..15, else 0 */
    uint16_t d, dmin; /* f16; dmin 0 unless Q2_K */
    int has_min;
} tlm_lowk_unit;

/* The 2-bit field of element i (Q2_K and Q3_K share the placement). */
static inline int tlm_lowk_2bit(const uint8_t *qs, int i)
{
    int h = i / 128, g = i % 128 / 32, l = i % 32;
    return (qs[32 * h + l] >> (2 * g)) & 3;
}

/* Q3_K scale s (0..15), 6 bits with the bias of 32 removed: the low 4 bits are the low (s < 8)
 * or high (s >= 8) nibble of scales[s % 8]; the high 2 bits are bits 2 (s / 4) .. of
 * scales[8 + s % 4]. */
static inline int tlm_q3_K_scale(const uint8_t *scales, int s)
{
    int lo = s < 8 ? scales[s] & 15 : scales[s - 8] >> 4;
    int hi = (scales[8 + s % 4] >> (2 * (s / 4))) & 3;
    return (lo | hi << 4) - 32;
}

/* IQ4_XS scale of sub-block b (0..7), bias removed. */
static inline int tlm_iq4_xs_scale(const block_iq4_xs *x, int b)
{
    int lo = (x->scales_l[b / 2] >> (4 * (b % 2))) & 15;
    int hi = (x->scales_h >> (2 * b)) & 3;
    return (lo | hi << 4) - 32;
}

/* Block `blk` of `type` (TLM_DT_Q2_K, TLM_DT_Q3_K or TLM_DT_IQ4_XS) into u. */
static inline void tlm_lowk_unpack(int type, tlm_lowk_unit *u, const void *blk)
{
    u->has_min = 0;
    u->dmin = 0;
    if (type == TLM_DT_Q2_K) {
        const block_q2_K *b = blk;
        for (int i = 0; i < 256; i++)
            u->w[i] = (int8_t)tlm_lowk_2bit(b->qs, i);
        for (int s = 0; s < 16; s++) {
            u->sc[s] = (int8_t)(b->scales[s] & 15);
            u->m[s] = (int8_t)(b->scales[s] >> 4);
        }
        u->d = b->d;
        u->dmin = b->dmin;
        u->has_min = 1;
    } else if (type == TLM_DT_Q3_K) {
        const block_q3_K *b = blk;
        for (int i = 0; i < 256; i++) {
            int hbit = (b->hmask[i % 32] >> (i / 32)) & 1;
            u->w[i] = (int8_t)(tlm_lowk_2bit(b->qs, i) - (hbit ? 0 : 4));
        }
        for (int s = 0; s < 16; s++) {
            u->sc[s] = (int8_t)tlm_q3_K_scale(b->scales, s);
            u->m[s] = 0;
        }
        u->d = b->d;
    } else { /* IQ4_XS */
        const block_iq4_xs *b = blk;
        for (int i = 0; i < 256; i++) {
            uint8_t byte = b->qs[16 * (i / 32) + i % 16];
            u->w[i] = tlm_iq4_values[i % 32 < 16 ? byte & 15 : byte >> 4];
        }
        for (int s = 0; s < 16; s++) {
            u->sc[s] = (int8_t)tlm_iq4_xs_scale(b, s / 2);
            u->m[s] = 0;
        }
        u->d = b->d;
    }
}

#endif
