/* qmatmul_lowk_body.h - the Q2_K, Q3_K and IQ4_XS matmuls, written once in the vector API of
 * simd_<isa>.h and run by the shared loop nest of qmatmul_blocked.c; compiled per ISA by
 * qmatmul_lowk_<isa>.c, which defines before including it:
 *   LOWK_IQ4_BIAS        added to IQ4_XS's codebook values in the packed levels (0: signed
 *                        bytes; 128: unsigned, for vpdpbusd)
 *   lowk_iq4(v)          bytes 0..15 of v mapped to the codebook values plus that bias
 *   lowk_dot4(a, w, x4)  a + per int32 lane the sum of its 4 level bytes times the 4 signed
 *                        bytes of x4, exact
 *   lowk_mul(a, b)       the int32 lane products
 *   lowk_dot16x2(a, w, x2)  a + per int32 lane the products of its two signed 16-bit halves
 *                        with the two of x2, exact
 *   lowk_gather(p, off)  the dword at p + off[lane] (any alignment)
 *   lowk_load_u16(p)     the VL 16-bit values at p, zero-extended to the lanes
 *   lowk_store(p, v)     v to p (64-byte aligned)
 *   lowk_f16_lo(v)       the low 16 bits of each lane, an f16, as float
 *   QMATMUL_FN(name)     the slot's name for the ISA.
 *   LOWK_NB              tokens per small-batch (gemm) pass, at most.
 * and may define
 *   LOWK_DOT16_U(e, x)   per int32 lane the sum of the 16 level bytes of entries e[0..3]
 *                        (unsigned, at most 7: Q2_K's and Q3_K's) times the 16 signed bytes
 *                        at x, exact; decode takes it for those types instead of four
 *                        lowk_dot4 (AVX2: their products summed in 16 bits first).
 *
 * Every unit of the loop nest is one block of 16 rows, packed into lanes (lane r = row r) in
 * the common form of quant_lowk.h, with the levels biased to what the dot takes (Q3_K's -4..3
 * to 0..7; the bias comes back out through the activations' sums per 16):
 *   [64] levels 4k .. 4k + 3 of every row, [16] sub-block scales (int32), [16] mins (int32),
 *   d (float), dmin (float); each entry 64 bytes = 16 lanes of 4 bytes.
 * Every field is a shift and a mask of whole dwords of the block, read by gathers from the
 * rows or, on a row-interleaved group (kernels.h, il: x86 rewrites these types at load), by
 * plain vector loads. Prefill packs each unit once for many tokens; decode (gemv) takes the
 * same fields straight into its dot products, nothing stored, so a group streams once; a small
 * batch (gemm: 2 .. 16 tokens) the same, each field serving up to LOWK_NB tokens. The
 * float steps are qmatmul_lowk_ref.c's, unfused and in its order, so the bits are its. */
#include <stdint.h>
#include <string.h>

#include "kernels_impl.h"
#include "qmatmul_blocked.h"
#include "quant.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* only its Q8_K quantizer is used here */
#define QX_Q8_OFFSET 0
#include "qmatmul_simd.h"
#pragma GCC diagnostic pop

enum {
    LK_SC = 64 * 64,
    LK_M = LK_SC + 16 * 64,
    LK_D = LK_M + 16 * 64,
    LK_DMIN = LK_D + 64,
    LK_PACK = LK_DMIN + 64,
    LK_NR = 4, /* tokens per tile */
};

/* What the packed levels of `type` add to the common form's: Q3_K's -4..3 become 0..7 (so
 * both its fields go in by OR), IQ4_XS's codebook values take the ISA's bias. */
TLM_INLINE int lowk_bias(int type)
{
    return type == TLM_DT_Q2_K ? 0 : type == TLM_DT_Q3_K ? 4 : LOWK_IQ4_BIAS;
}

TLM_INLINE int64_t lowk_block_bytes(int type)
{
    return type == TLM_DT_Q2_K   ? (int64_t)sizeof(block_q2_K)
           : type == TLM_DT_Q3_K ? (int64_t)sizeof(block_q3_K)
                                 : (int64_t)sizeof(block_iq4_xs);
}

/* Any block, one row at a time through the scalar unpack: for rows too far apart for the
 * gathers' 32-bit offsets. */
static void lowk_pack_scalar(int type, int64_t block_bytes, char *o, const char *w,
                             uint64_t w_row_bytes, int rows, int64_t u)
{
    tlm_lowk_unit lu;
    for (int r = 0; r < TLM_QROWS; r++) {
        const char *row = w + (uint64_t)(r < rows ? r : rows - 1) * w_row_bytes;
        tlm_lowk_unpack(type, &lu, row + u * block_bytes);
        for (int k = 0; k < 64; k++) {
            uint8_t b[4];
            for (int j = 0; j < 4; j++)
                b[j] = (uint8_t)(lu.w[4 * k + j] + lowk_bias(type));
            memcpy(o + 64 * k + 4 * r, b, 4);
        }
        for (int s = 0; s < 16; s++) {
            const int32_t sc = lu.sc[s], m = lu.m[s];
            memcpy(o + LK_SC + 64 * s + 4 * r, &sc, 4);
            memcpy(o + LK_M + 64 * s + 4 * r, &m, 4);
        }
        const float d = tlm_f16_to_f32(lu.d), dmin = tlm_f16_to_f32(lu.dmin);
        memcpy(o + LK_D + 4 * r, &d, 4);
        memcpy(o + LK_DMIN + 4 * r, &dmin, 4);
    }
}

/* Where the dwords of one unit's lanes [VL h, VL h + VL) come from: gathers from the rows
 * (lane r reads row VL h + r, the last row standing in past `rows`), or plain loads from a
 * row-interleaved group (kernels.h, il: dword k of row r's block at 64 k + 4 r, then Q3_K's
 * odd 2 bytes, its d, at 64 * 27 + 2 r). */
typedef struct lk_src {
    const char *base; /* rows: row 0's block; il: the group's block */
    vi ro;            /* rows: each lane's row offset */
    int lane;         /* il: this slice's bytes in every 64-byte piece */
    bool il;
} lk_src;

TLM_INLINE lk_src lk_rows(const char *blk, uint64_t w_row_bytes, int rows, int h)
{
    int32_t roff[VL];
    for (int j = 0; j < VL; j++)
        roff[j] = (int32_t)((uint64_t)(h * VL + j < rows ? h * VL + j : rows - 1) * w_row_bytes);
    return (lk_src){blk, vi_load(roff), 0, false};
}

TLM_INLINE lk_src lk_il(const char *blk, int h)
{
    return (lk_src){blk, vi_set1(0), 4 * VL * h, true};
}

/* The dword at byte off (a multiple of 4 when il) of every lane's block. */
TLM_INLINE vi lk_get(const lk_src *s, int off)
{
    if (s->il) return vi_load((const int32_t *)(const void *)(s->base + 16 * off + s->lane));
    return lowk_gather(s->base, vi_add(s->ro, vi_set1(off)));
}

/* Q3_K's d (the block's last 2 bytes) in the low half of each lane: read no further. */
TLM_INLINE vi lk_q3_d(const lk_src *s)
{
    if (s->il) return lowk_load_u16(s->base + 64 * 27 + s->lane / 2);
    return vi_shr(lk_get(s, 106), 16);
}

/* Lanes [VL h, VL h + VL) of a unit into the packed form at o: every field is a shift and a
 * mask of whole dwords, since each packed dword's 4 elements share their byte positions and
 * bit offsets in the block. */
TLM_INLINE void lowk_pack_lanes(int type, char *o, const lk_src *src, int h)
{
    const vi m2 = vi_set1(0x03030303), m4 = vi_set1(0x0f0f0f0f);
    o += 4 * VL * h;
#define G(off) lk_get(src, off)
    vi sc[16], mn[16], dd;
    int dmin_shift = -1; /* Q2_K: dmin is the high half of the dword holding d */
    if (type == TLM_DT_Q2_K) {
        /* scales[16], qs[64], d, dmin */
        for (int h2 = 0; h2 < 2; h2++)
            for (int lq = 0; lq < 8; lq++) {
                const vi qd = G(16 + 32 * h2 + 4 * lq);
                for (int g = 0; g < 4; g++)
                    lowk_store(o + 64 * (32 * h2 + 8 * g + lq), vi_and(vi_shr(qd, 2 * g), m2));
            }
        for (int j = 0; j < 4; j++) {
            const vi sd = G(4 * j);
            for (int b = 0; b < 4; b++) {
                sc[4 * j + b] = vi_and(vi_shr(sd, 8 * b), vi_set1(15));
                mn[4 * j + b] = vi_and(vi_shr(sd, 8 * b + 4), vi_set1(15));
            }
        }
        dd = G(80);
        dmin_shift = 16;
    } else if (type == TLM_DT_Q3_K) {
        /* hmask[32], qs[64], scales[12], d */
        for (int lq = 0; lq < 8; lq++) {
            const vi hd = G(4 * lq);
            for (int h2 = 0; h2 < 2; h2++) {
                const vi qd = G(32 + 32 * h2 + 4 * lq);
                for (int g = 0; g < 4; g++) {
                    const vi hb = vi_and(vi_shr(hd, 4 * h2 + g), vi_set1(0x01010101));
                    lowk_store(o + 64 * (32 * h2 + 8 * g + lq),
                               vi_or(vi_and(vi_shr(qd, 2 * g), m2), vi_shl(hb, 2)));
                }
            }
        }
        /* the 12 bytes as 3 dwords: scales 4j .. 4j + 3 are the bytes of aux[j], each a low
         * 4 bits from a0 / a1 (nibble j / 2) and a high 2 from a2 (bits 2j) */
        const vi a0 = G(96), a1 = G(100), a2 = G(104), k1 = vi_set1(0x03030303);
        const vi aux[4] = {vi_or(vi_and(a0, m4), vi_shl(vi_and(a2, k1), 4)),
                           vi_or(vi_and(a1, m4), vi_shl(vi_and(vi_shr(a2, 2), k1), 4)),
                           vi_or(vi_and(vi_shr(a0, 4), m4), vi_shl(vi_and(vi_shr(a2, 4), k1), 4)),
                           vi_or(vi_and(vi_shr(a1, 4), m4), vi_shl(vi_and(vi_shr(a2, 6), k1), 4))};
        for (int s = 0; s < 16; s++) {
            sc[s] = vi_sub(vi_and(vi_shr(aux[s / 4], 8 * (s % 4)), vi_set1(0xff)), vi_set1(32));
            mn[s] = vi_set1(0);
        }
        dd = lk_q3_d(src);
    } else {
        /* IQ4_XS: d, scales_h, scales_l[4], qs[128] */
        for (int b = 0; b < 8; b++)
            for (int lq = 0; lq < 4; lq++) {
                const vi qd = G(8 + 16 * b + 4 * lq);
                lowk_store(o + 64 * (8 * b + lq), lowk_iq4(vi_and(qd, m4)));
                lowk_store(o + 64 * (8 * b + 4 + lq), lowk_iq4(vi_and(vi_shr(qd, 4), m4)));
            }
        dd = G(0);
        const vi sh = vi_shr(dd, 16), sl = G(4);
        for (int b = 0; b < 8; b++) {
            const vi ls = vi_or(vi_and(vi_shr(sl, 4 * b), vi_set1(15)),
                                vi_shl(vi_and(vi_shr(sh, 2 * b), vi_set1(3)), 4));
            sc[2 * b] = sc[2 * b + 1] = vi_sub(ls, vi_set1(32));
            mn[2 * b] = mn[2 * b + 1] = vi_set1(0);
        }
    }
    for (int s = 0; s < 16; s++) {
        lowk_store(o + LK_SC + 64 * s, sc[s]);
        lowk_store(o + LK_M + 64 * s, mn[s]);
    }
    vf_store((float *)(o + LK_D), lowk_f16_lo(dd));
    vf_store((float *)(o + LK_DMIN),
             dmin_shift < 0 ? vf_zero() : lowk_f16_lo(vi_shr(dd, dmin_shift)));
}

/* Units [u0, u0 + n_units) of the rows at w (il: of the group at w) into dst. */
TLM_INLINE void lowk_pack(int type, int64_t block_bytes, bool il, void *dst, const char *w,
                          uint64_t w_row_bytes, int rows, int64_t u0, int64_t n_units)
{
    /* the gathers' offsets are int32: rows 0..15 must lie within 2^31 bytes */
    const bool near = w_row_bytes <= (uint64_t)INT32_MAX / TLM_QROWS;
    for (int64_t u = u0; u < u0 + n_units; u++) {
        char *o = (char *)dst + (u - u0) * LK_PACK;
        if (!il && !near) {
            lowk_pack_scalar(type, block_bytes, o, w, w_row_bytes, rows, u);
            continue;
        }
        for (int h = 0; h * VL < TLM_QROWS; h++) {
            const lk_src src = il ? lk_il(w + u * TLM_QROWS * block_bytes, h)
                                  : lk_rows(w + u * block_bytes, w_row_bytes, rows, h);
            lowk_pack_lanes(type, o, &src, h);
        }
    }
}

TLM_INLINE int32_t lowk_x4(const int8_t *q)
{
    int32_t v;
    memcpy(&v, q, 4);
    return v;
}

/* nr (a constant after inlining) tokens against the packed units, VL rows at a time. */
TLM_INLINE void lowk_tile(int type, int nr, float *y, int64_t ldy, int rows, bool accumulate,
                          const char *packed, int64_t n_units, const char *xq, int64_t xs)
{
    const bool has_min = type == TLM_DT_Q2_K;
    const int bias = lowk_bias(type);
    for (int h = 0; h * VL < TLM_QROWS && h * VL < rows; h++) {
        const vmask mk = vmask_n(rows - h * VL < VL ? rows - h * VL : VL);
        const int lane = 4 * VL * h; /* this slice's bytes in every 64-byte entry */
        vf a[LK_NR];
#pragma GCC unroll 4
        for (int t = 0; t < nr; t++)
            a[t] = accumulate ? vf_load_m(y + t * ldy + h * VL, mk) : vf_zero();
        for (int64_t u = 0; u < n_units; u++) {
            const char *p = packed + u * LK_PACK;
            vi isum[LK_NR], msum[LK_NR];
#pragma GCC unroll 4
            for (int t = 0; t < nr; t++)
                isum[t] = msum[t] = vi_set1(0);
            for (int s = 0; s < 16; s++) {
                const vi sc = vi_load((const int32_t *)(p + LK_SC + 64 * s + lane));
                vi wv[4];
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++)
                    wv[k] = vi_load((const int32_t *)(p + 64 * (4 * s + k) + lane));
#pragma GCC unroll 4
                for (int t = 0; t < nr; t++) {
                    const xq256 *xb = (const xq256 *)(xq + t * xs) + u;
                    vi sub = vi_set1(0);
#pragma GCC unroll 4
                    for (int k = 0; k < 4; k++)
                        sub = lowk_dot4(sub, wv[k], lowk_x4(xb->q + 16 * s + 4 * k));
                    if (bias) sub = vi_sub(sub, vi_set1(bias * xb->s16[s]));
                    isum[t] = vi_add(isum[t], lowk_mul(sub, sc));
                    if (has_min)
                        msum[t] = vi_add(
                            msum[t], lowk_mul(vi_load((const int32_t *)(p + LK_M + 64 * s + lane)),
                                              vi_set1(xb->s16[s])));
                }
            }
            const vf dv = vf_load((const float *)(p + LK_D + lane));
            const vf dminv = vf_load((const float *)(p + LK_DMIN + lane));
#pragma GCC unroll 4
            for (int t = 0; t < nr; t++) {
                const vf dx = vf_set1(((const xq256 *)(xq + t * xs) + u)->d);
                a[t] = vf_add(a[t], vf_mul(vi_to_f32(isum[t]), vf_mul(dv, dx)));
                if (has_min) a[t] = vf_sub(a[t], vf_mul(vi_to_f32(msum[t]), vf_mul(dminv, dx)));
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < nr; t++)
            vf_store_m(y + t * ldy + h * VL, a[t], mk);
    }
}

/* ---- decode: one token straight from the weights, nothing packed -------------------- */

/* A unit's scale fields, read once: Q2_K the 4 scale dwords; Q3_K the 4 dwords of 6-bit
 * scales rebuilt as in lowk_pack_lanes; IQ4_XS scales_l. dd: the dword holding d (and
 * Q2_K's dmin, IQ4_XS's scales_h) in its low (high) half. */
typedef struct lk_head {
    vi a[4], dd;
} lk_head;

TLM_INLINE void lk_header(int type, lk_head *o, const lk_src *src)
{
    const vi m4 = vi_set1(0x0f0f0f0f);
    if (type == TLM_DT_Q2_K) {
        for (int j = 0; j < 4; j++)
            o->a[j] = G(4 * j);
        o->dd = G(80);
    } else if (type == TLM_DT_Q3_K) {
        const vi a0 = G(96), a1 = G(100), a2 = G(104), k1 = vi_set1(0x03030303);
        o->a[0] = vi_or(vi_and(a0, m4), vi_shl(vi_and(a2, k1), 4));
        o->a[1] = vi_or(vi_and(a1, m4), vi_shl(vi_and(vi_shr(a2, 2), k1), 4));
        o->a[2] = vi_or(vi_and(vi_shr(a0, 4), m4), vi_shl(vi_and(vi_shr(a2, 4), k1), 4));
        o->a[3] = vi_or(vi_and(vi_shr(a1, 4), m4), vi_shl(vi_and(vi_shr(a2, 6), k1), 4));
        o->dd = lk_q3_d(src);
    } else {
        o->a[0] = G(4);
        o->dd = G(0);
    }
}

/* Sub-block s's scale and (Q2_K) min, int32 lanes: the values lowk_pack_lanes stores. */
TLM_INLINE vi lk_scale(int type, const lk_head *h, int s)
{
    if (type == TLM_DT_Q2_K) return vi_and(vi_shr(h->a[s / 4], 8 * (s % 4)), vi_set1(15));
    if (type == TLM_DT_Q3_K)
        return vi_sub(vi_and(vi_shr(h->a[s / 4], 8 * (s % 4)), vi_set1(0xff)), vi_set1(32));
    const int b = s / 2;
    const vi ls = vi_or(vi_and(vi_shr(h->a[0], 4 * b), vi_set1(15)),
                        vi_shl(vi_and(vi_shr(h->dd, 16 + 2 * b), vi_set1(3)), 4));
    return vi_sub(ls, vi_set1(32));
}

/* Packed entry e (levels 4e .. 4e + 3 of each lane, biased), as lowk_pack_lanes makes it. */
TLM_INLINE vi lk_entry(int type, const lk_src *src, int e)
{
    const vi m2 = vi_set1(0x03030303), m4 = vi_set1(0x0f0f0f0f);
    if (type == TLM_DT_IQ4_XS) { /* e = 8b + 4 hi + lq */
        const vi qd = G(8 + 16 * (e / 8) + 4 * (e % 4));
        return lowk_iq4(vi_and(e % 8 >= 4 ? vi_shr(qd, 4) : qd, m4));
    }
    const int h2 = e / 32, g = e % 32 / 8, lq = e % 8; /* e = 32 h2 + 8 g + lq */
    const vi q = vi_and(vi_shr(G((type == TLM_DT_Q2_K ? 16 : 32) + 32 * h2 + 4 * lq), 2 * g), m2);
    if (type == TLM_DT_Q2_K) return q;
    /* hmask bit 4 h2 + g of each byte moved to its bit 2 (the level's 4) */
    const vi hd = G(4 * lq), k4 = vi_set1(0x04040404);
    const int sh = 4 * h2 + g - 2;
    return vi_or(q, vi_and(sh >= 0 ? vi_shr(hd, sh) : vi_shl(hd, -sh), k4));
}

/* Q2_K's mins of sub-blocks 2i, 2i + 1 as the 16-bit halves of each lane (the high nibbles
 * of scale bytes 4j + 2p, 4j + 2p + 1, i = 2j + p). */
TLM_INLINE vi lk_min_pair(const lk_head *h, int i)
{
    const vi sd = h->a[i / 2];
    const int p = i % 2;
    const vi hi = p ? vi_shr(sd, 12) : vi_shl(sd, 4);
    return vi_or(vi_and(vi_shr(sd, 16 * p + 4), vi_set1(0xf)), vi_and(hi, vi_set1(0xf0000)));
}

TLM_INLINE int32_t lk_s16_pair(const xq256 *xb, int i)
{
    int32_t v;
    memcpy(&v, xb->s16 + 2 * i, 4);
    return v;
}

/* acc + one unit of lanes src . the token's block xb: lowk_tile's steps for one token (the
 * same integer sums; Q2_K's mins by 16-bit pairs), stepping the next group's prefetch pf
 * every 2 sub-blocks. */
TLM_INLINE vf lowk_gemv_unit(int type, vf acc, const lk_src *src, const xq256 *xb,
                             tlm_qprefetch *pf)
{
    const int bias = lowk_bias(type);
    /* laundered: the token's bytes are broadcast from xb where used, not gathered once for
     * both slices of a unit into scalar registers and stack copies */
    __asm__("" : "+r"(xb));
    lk_head hd;
    lk_header(type, &hd, src);
    vi isum = vi_set1(0), msum = vi_set1(0);
#pragma GCC unroll 16
    for (int s = 0; s < 16; s++) {
        if (s % 2 == 0) tlm_qprefetch_step(pf);
        lk_src ls = *src; /* its base laundered: each sub-block loads its dwords again (from
                           * L1) rather than keeping them in registers that then spill */
        __asm__("" : "+r"(ls.base));
        vi sub = vi_set1(0);
#ifdef LOWK_DOT16_U
        if (type != TLM_DT_IQ4_XS) { /* Q2_K's and Q3_K's levels are unsigned, at most 7 */
            vi e[4];
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                e[k] = lk_entry(type, &ls, 4 * s + k);
            sub = LOWK_DOT16_U(e, xb->q + 16 * s);
        } else
#endif
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++)
                sub =
                    lowk_dot4(sub, lk_entry(type, &ls, 4 * s + k), lowk_x4(xb->q + 16 * s + 4 * k));
        if (bias) sub = vi_sub(sub, vi_set1(bias * xb->s16[s]));
        isum = vi_chain(vi_add(isum, lowk_mul(sub, lk_scale(type, &hd, s))));
    }
    if (type == TLM_DT_Q2_K)
        for (int i = 0; i < 8; i++)
            msum = lowk_dot16x2(msum, lk_min_pair(&hd, i), lk_s16_pair(xb, i));
    const vf dx = vf_set1(xb->d);
    acc = vf_add(acc, vf_mul(vi_to_f32(isum), vf_mul(lowk_f16_lo(hd.dd), dx)));
    if (type == TLM_DT_Q2_K)
        acc = vf_sub(acc, vf_mul(vi_to_f32(msum), vf_mul(lowk_f16_lo(vi_shr(hd.dd, 16)), dx)));
    return acc;
}
#undef G

/* The gemv of qmatmul_blocked.h on rows or (il) a group: each unit's dwords go from the
 * weights straight into the dot products, while the next group streams into L2. */
TLM_INLINE void lowk_gemv(int type, int64_t block_bytes, bool il, float *y, int rows,
                          bool accumulate, const char *w, uint64_t w_row_bytes, int64_t u0,
                          int64_t n_units, const char *xq, const char *next)
{
    if (!il && w_row_bytes > (uint64_t)INT32_MAX / TLM_QROWS) { /* beyond the gathers */
        _Alignas(64) char buf[LK_PACK];
        for (int64_t u = u0; u < u0 + n_units; u++) {
            lowk_pack_scalar(type, block_bytes, buf, w, w_row_bytes, rows, u);
            lowk_tile(type, 1, y, 0, rows, accumulate || u > u0, buf, 1,
                      xq + (u - u0) * (int64_t)sizeof(xq256), 0);
        }
        return;
    }
    enum { NH = TLM_QROWS / VL };
    const int nh = (rows + VL - 1) / VL;
    /* no rows, nothing to store; past this src[0] is always set before a unit reads it,
     * which gcc (-Os) could not see ("src may be used uninitialized") */
    if (nh < 1) return;
    lk_src src[NH];
    vf acc[NH] = {vf_zero()}; /* every slice zero: lanes past rows are never read */
    for (int h = 0; h < nh; h++) {
        src[h] = il ? lk_il(w, h) : lk_rows(w, w_row_bytes, rows, h);
        acc[h] = accumulate
                     ? vf_load_m(y + h * VL, vmask_n(rows - h * VL < VL ? rows - h * VL : VL))
                     : vf_zero();
    }
    const int64_t step = il ? TLM_QROWS * block_bytes : block_bytes;
    tlm_qprefetch pf = tlm_qprefetch_init(next, TLM_QROWS * (int64_t)w_row_bytes, n_units * nh * 8);
    for (int64_t u = u0; u < u0 + n_units; u++) {
        const xq256 *xb = (const xq256 *)xq + (u - u0);
        for (int h = 0; h < nh; h++) {
            lk_src s = src[h];
            s.base += u * step;
            s.il = il; /* known here: one way of loading compiled, not both behind a test */
            acc[h] = lowk_gemv_unit(type, acc[h], &s, xb, &pf);
        }
    }
    for (int h = 0; h < nh; h++)
        vf_store_m(y + h * VL, acc[h], vmask_n(rows - h * VL < VL ? rows - h * VL : VL));
}

/* A small batch (the gemm of qmatmul_blocked.h): lowk_gemv_unit's steps with each unit's
 * header, level entries and scales built once and used by nt (<= LOWK_NB, a constant after
 * inlining) tokens whose sums stay in registers; VL rows at a time over all the units (AVX2's
 * second slice reads the chunk again from L1: small_batch's chunks fit there). */
TLM_INLINE void lowk_gemm(int type, int64_t block_bytes, bool il, int nt, float *y, int64_t ldy,
                          int rows, bool accumulate, const char *w, uint64_t w_row_bytes,
                          int64_t u0, int64_t n_units, const char *xq, int64_t xs, const char *next)
{
    if (!il && w_row_bytes > (uint64_t)INT32_MAX / TLM_QROWS) { /* beyond the gathers: gemv's */
        _Alignas(64) char buf[LK_PACK];
        for (int64_t u = u0; u < u0 + n_units; u++) {
            lowk_pack_scalar(type, block_bytes, buf, w, w_row_bytes, rows, u);
            for (int t = 0; t < nt; t++)
                lowk_tile(type, 1, y + t * ldy, 0, rows, accumulate || u > u0, buf, 1,
                          xq + t * xs + (u - u0) * (int64_t)sizeof(xq256), 0);
        }
        return;
    }
    const bool has_min = type == TLM_DT_Q2_K;
    const int bias = lowk_bias(type);
    const int64_t step = il ? TLM_QROWS * block_bytes : block_bytes;
    tlm_qprefetch pf = tlm_qprefetch_init(next, TLM_QROWS * (int64_t)w_row_bytes, n_units);
    for (int h = 0; h * VL < TLM_QROWS && h * VL < rows; h++) {
        const vmask mk = vmask_n(rows - h * VL < VL ? rows - h * VL : VL);
        const lk_src src = il ? lk_il(w, h) : lk_rows(w, w_row_bytes, rows, h);
        vf acc[LOWK_NB];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            acc[t] = accumulate ? vf_load_m(y + t * ldy + h * VL, mk) : vf_zero();
        for (int64_t u = u0; u < u0 + n_units; u++) {
            if (h == 0) tlm_qprefetch_step(&pf);
            const char *xu = xq + (u - u0) * (int64_t)sizeof(xq256);
            lk_src s = src;
            s.base += u * step;
            lk_head hd;
            lk_header(type, &hd, &s);
            vi isum[LOWK_NB];
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                isum[t] = vi_set1(0);
#pragma GCC unroll 16
            for (int sb = 0; sb < 16; sb++) {
                vi e[4];
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++)
                    e[k] = lk_entry(type, &s, 4 * sb + k);
                const vi sc = lk_scale(type, &hd, sb);
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++) {
                    const xq256 *xb = (const xq256 *)(xu + t * xs);
                    vi sub = vi_set1(0);
#ifdef LOWK_DOT16_U
                    if (type != TLM_DT_IQ4_XS) /* as in lowk_gemv_unit */
                        sub = LOWK_DOT16_U(e, xb->q + 16 * sb);
                    else
#endif
#pragma GCC unroll 4
                        for (int k = 0; k < 4; k++)
                            sub = lowk_dot4(sub, e[k], lowk_x4(xb->q + 16 * sb + 4 * k));
                    if (bias) sub = vi_sub(sub, vi_set1(bias * xb->s16[sb]));
                    isum[t] = vi_chain(vi_add(isum[t], lowk_mul(sub, sc)));
                }
            }
            const vf d = lowk_f16_lo(hd.dd);
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++) {
                const xq256 *xb = (const xq256 *)(xu + t * xs);
                const vf dx = vf_set1(xb->d);
                acc[t] = vf_add(acc[t], vf_mul(vi_to_f32(isum[t]), vf_mul(d, dx)));
                if (has_min) { /* the mins last, one token at a time: fewer sums live */
                    vi msum = vi_set1(0);
                    for (int i = 0; i < 8; i++)
                        msum = lowk_dot16x2(msum, lk_min_pair(&hd, i), lk_s16_pair(xb, i));
                    acc[t] = vf_sub(acc[t], vf_mul(vi_to_f32(msum),
                                                   vf_mul(lowk_f16_lo(vi_shr(hd.dd, 16)), dx)));
                }
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            vf_store_m(y + t * ldy + h * VL, acc[t], mk);
    }
}

/* The gemm shapes of GEMM_SMALL_FN (qmatmul_simd.h): rows and groups of one block type. */
#define LOWK_GEMM_ROWS(type, nt, ...)                                                              \
    lowk_gemm(type, lowk_block_bytes(type), false, nt, __VA_ARGS__)
#define LOWK_GEMM_IL(type, nt, ...) lowk_gemm(type, lowk_block_bytes(type), true, nt, __VA_ARGS__)

/* The pack, tile, gemv, gemm and slots (rows, il) of one type; the tile and gemm bodies are
 * specialised per token count. */
#define LOWK_OPS(name, block, tile_fn, pack_fn, gemv_fn, gemm_fn)                                  \
    static const tlm_qmatmul_ops name = {.unit = QK_K,                                             \
                                         .unit_bytes = sizeof(block),                              \
                                         .pack_bytes = LK_PACK,                                    \
                                         .x_bytes = sizeof(xq256),                                 \
                                         .nr = LK_NR,                                              \
                                         .quantize_x = quantize_x256,                              \
                                         .pack = pack_fn,                                          \
                                         .tile = tile_fn,                                          \
                                         .gemv = gemv_fn,                                          \
                                         .gemm = gemm_fn,                                          \
                                         .nb = LOWK_NB};
#define LOWK_TYPE(suffix, type, block)                                                             \
    static void pack_##suffix(void *dst, const char *w, uint64_t w_row_bytes, int rows,            \
                              int64_t u0, int64_t n_units)                                         \
    {                                                                                              \
        lowk_pack(type, sizeof(block), false, dst, w, w_row_bytes, rows, u0, n_units);             \
    }                                                                                              \
    static void pack_il_##suffix(void *dst, const char *w, uint64_t w_row_bytes, int rows,         \
                                 int64_t u0, int64_t n_units)                                      \
    {                                                                                              \
        lowk_pack(type, sizeof(block), true, dst, w, w_row_bytes, rows, u0, n_units);              \
    }                                                                                              \
    static void gemv_##suffix(float *y, int rows, bool acc, const char *w, uint64_t w_row_bytes,   \
                              int64_t u0, int64_t n_units, const char *xq, const char *next)       \
    {                                                                                              \
        lowk_gemv(type, sizeof(block), false, y, rows, acc, w, w_row_bytes, u0, n_units, xq,       \
                  next);                                                                           \
    }                                                                                              \
    static void gemv_il_##suffix(float *y, int rows, bool acc, const char *w,                      \
                                 uint64_t w_row_bytes, int64_t u0, int64_t n_units,                \
                                 const char *xq, const char *next)                                 \
    {                                                                                              \
        lowk_gemv(type, sizeof(block), true, y, rows, acc, w, w_row_bytes, u0, n_units, xq, next); \
    }                                                                                              \
    static void tile_##suffix(float *y, int64_t ldy, int rows, bool acc, int nr,                   \
                              const void *packed, int64_t n_units, const char *xq, int64_t xs)     \
    {                                                                                              \
        switch (nr) {                                                                              \
        case 1:                                                                                    \
            lowk_tile(type, 1, y, ldy, rows, acc, packed, n_units, xq, xs);                        \
            break;                                                                                 \
        case 2:                                                                                    \
            lowk_tile(type, 2, y, ldy, rows, acc, packed, n_units, xq, xs);                        \
            break;                                                                                 \
        case 3:                                                                                    \
            lowk_tile(type, 3, y, ldy, rows, acc, packed, n_units, xq, xs);                        \
            break;                                                                                 \
        default:                                                                                   \
            lowk_tile(type, LK_NR, y, ldy, rows, acc, packed, n_units, xq, xs);                    \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    GEMM_SMALL_FN(gemm_##suffix, LOWK_GEMM_ROWS, type, LOWK_NB)                                    \
    GEMM_SMALL_FN(gemm_il_##suffix, LOWK_GEMM_IL, type, LOWK_NB)                                   \
    LOWK_OPS(ops_##suffix, block, tile_##suffix, pack_##suffix, gemv_##suffix, gemm_##suffix)      \
    LOWK_OPS(ops_il_##suffix, block, tile_##suffix, pack_il_##suffix, gemv_il_##suffix,            \
             gemm_il_##suffix)                                                                     \
    TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_##suffix), tlm_qmatmul_blocked, ops_##suffix)           \
    TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_##suffix), tlm_qmatmul_il, ops_il_##suffix)

LOWK_TYPE(q2_K, TLM_DT_Q2_K, block_q2_K)
LOWK_TYPE(q3_K, TLM_DT_Q3_K, block_q3_K)
LOWK_TYPE(iq4_xs, TLM_DT_IQ4_XS, block_iq4_xs)
