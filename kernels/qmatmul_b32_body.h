/* qmatmul_b32_body.h - the Q4_1, Q5_0, Q5_1 and IQ4_NL matmuls, written once in the vector
 * API of simd_<isa>.h (VL int32 lanes = VL weight rows) and run by the shared loop nest of
 * qmatmul_blocked.c; compiled per ISA by qmatmul_b32_<isa>.c, which defines before including
 * it:
 *   B32_IQ4_BIAS        added to IQ4_NL's codebook values in the levels (0: signed bytes,
 *                       taken by b32_dot4 with sgn; 128: unsigned, for vpdpbusd)
 *   b32_dot4(a, w, x, sgn)  a + per int32 lane the sum of its 4 level bytes (unsigned, or
 *                       signed when sgn) times the 4 signed bytes at x, exact
 *   b32_bytes(c), b32_set4(a, b, c, d) (dwords a..d in every 128 bits), b32_load (VL dwords,
 *   any alignment), b32_store (64-byte aligned), b32_shuffle (pshufb), b32_min_u8,
 *   b32_shl16, b32_gather (dwords at base + idx, bytes), b32_f16_lo / b32_f16_hi (the low /
 *   high 16 bits of each lane, an f16, as float), b32_cvtph (VL f16 at p as float)
 *   QMATMUL_FN(name)     the slot's name for the ISA.
 *   B32_NR, B32_NB       tokens per prefill tile and per small-batch (gemm) pass, at most.
 *
 * As for the other quantized types (qmatmul_ref.c, qmatmul_blocked.h), the kernels agree
 * with qmatmul_b32_ref.c within float summation error, not bit for bit: each block's integer
 * sum is exact (the same integer as the reference's), the float steps per block are
 *   acc = fma(float(isum), d * dx, acc)       then, Q4_1 / Q5_1:  acc = fma(m, sx, acc)
 * with sx = float(sum q) * dx per activation block (ggml's Q8_1 "s"), where the reference
 * rounds each product. Blocks are taken in order of k, the same operations in decode, prefill
 * and any split of rows, so those all give the same bits.
 *
 * Every unit of the loop nest is one block of 32 of 16 rows, one row per int32 lane: entry
 * kk (0..7) holds elements 4kk .. 4kk + 3 of each row as unsigned bytes (Q4_1 0..15, Q5_0
 * and Q5_1 0..31 - Q5_0's 16 comes back out through the activations' sum in corr -, IQ4_NL
 * its codebook value plus B32_IQ4_BIAS), then d and m of each row as float. Prefill packs
 * units into that form (B32_PACK bytes, in L1) and runs tiles of 16 rows x up to B32_NR
 * tokens over them; decode (gemv) makes the same vectors in registers and uses them once, and
 * a small batch (gemm: 2 .. 16 tokens) makes them once for up to B32_NB tokens.
 * Row-interleaved groups (kernels.h, il; written by interleave.c) give the dwords with plain
 * vector loads; plain rows are gathered a dword of 16 rows at a time (from a copy of the
 * block into 32-byte slots when 16 rows span more than 32-bit offsets reach). */
#include <stdint.h>
#include <string.h>

#include "kernels_impl.h"
#include "qmatmul_blocked.h"
#include "quant_b32.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* its Q8_0 / Q4_0 / K quantizers */
#define QX_Q8_OFFSET 0
#include "qmatmul_simd.h"
#pragma GCC diagnostic pop

enum {
    B32_HB = 4 * VL,         /* bytes of one vector's lanes in a 64-byte entry */
    B32_NH = TLM_QROWS / VL, /* vectors per group of 16 rows */
    B32_PACK = 10 * 64,      /* packed unit: 8 level entries, d, m */
    B32_SLOT = 32,           /* bytes per row of a copied block of plain rows */
};

typedef struct xb32 { /* one quantized activation block */
    int8_t q[32];
    float d;      /* dx */
    float sx;     /* float(sum q) * dx, for the min term */
    int32_t corr; /* -(level offset) * sum q: Q5_0's 16, IQ4_NL's B32_IQ4_BIAS */
} xb32;

TLM_INLINE int b32_block(int type)
{
    return type == TLM_DT_Q4_1   ? (int)sizeof(block_q4_1)
           : type == TLM_DT_Q5_0 ? (int)sizeof(block_q5_0)
           : type == TLM_DT_Q5_1 ? (int)sizeof(block_q5_1)
                                 : (int)sizeof(block_iq4_nl);
}

TLM_INLINE bool b32_has_min(int type) { return type == TLM_DT_Q4_1 || type == TLM_DT_Q5_1; }
TLM_INLINE bool b32_five(int type) { return type == TLM_DT_Q5_0 || type == TLM_DT_Q5_1; }
TLM_INLINE bool b32_sgn(int type) { return type == TLM_DT_IQ4_NL && B32_IQ4_BIAS == 0; }

/* The activations, by qmatmul_b32_ref.c's rule (vcvtps2dq rounds to nearest even, as lrintf). */
TLM_INLINE void b32_quantize(int type, void *xq, const float *x, int64_t n_units)
{
    const int off = type == TLM_DT_Q5_0 ? 16 : type == TLM_DT_IQ4_NL ? B32_IQ4_BIAS : 0;
    xb32 *o = xq;
    for (int64_t u = 0; u < n_units; u++, x += 32) {
        const float amax = amax_of(x, 32);
        const int32_t s = quantize_run(o[u].q, x, 32, vf_set1(inv_scale(amax)));
        o[u].d = amax / 127.0f;
        o[u].sx = (float)s * o[u].d;
        o[u].corr = -off * s;
    }
}

/* ---- a unit's vectors: 8 level entries, d and m, for rows [VL h, VL h + VL) -------------- */

typedef struct b32_unit {
    vi lv[8];
    vf d, m;
} b32_unit;

/* The codebook (plus bias) in every 128 bits, for the nibble lookup. */
TLM_INLINE vi b32_book(void)
{
    int32_t w[4];
    for (int i = 0; i < 4; i++) {
        uint32_t v = 0;
        for (int b = 0; b < 4; b++)
            v |= (uint32_t)(uint8_t)(tlm_iq4_values[4 * i + b] + B32_IQ4_BIAS) << (8 * b);
        w[i] = (int32_t)v;
    }
    return b32_set4(w[0], w[1], w[2], w[3]);
}

/* 16 in byte b of each lane where bit 4kk + b of the lane's qh is set: the byte holding those
 * 4 bits copied to all 4 bytes, one bit kept per byte, then made 16. */
TLM_INLINE vi b32_fifth(vi qh, int kk)
{
    const int j = kk / 2, r = (int)(0x01010101u * (unsigned)j);
    const vi rep = b32_set4(r, r + 0x04040404, r + 0x08080808, r + 0x0c0c0c0c);
    const vi bits = vi_set1(kk % 2 ? (int32_t)0x80402010 : 0x08040201);
    return b32_shl16(b32_min_u8(vi_and(b32_shuffle(qh, rep), bits), b32_bytes(1)), 4);
}

/* The unit from its raw dwords: the header (d, and m in the high half), qh and the 4 qs. */
TLM_INLINE void b32_make(int type, b32_unit *o, vi qh, const vi qs[4], vi book)
{
    const vi m4 = b32_bytes(15);
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        vi lo = vi_and(qs[j], m4), hi = vi_and(vi_shr(qs[j], 4), m4);
        if (type == TLM_DT_IQ4_NL) {
            lo = b32_shuffle(book, lo);
            hi = b32_shuffle(book, hi);
        }
        o->lv[j] = lo;     /* elements 4j .. 4j + 3: low nibbles */
        o->lv[4 + j] = hi; /* 16 + 4j ..: high nibbles */
    }
    if (b32_five(type))
#pragma GCC unroll 8
        for (int kk = 0; kk < 8; kk++)
            o->lv[kk] = vi_or(o->lv[kk], b32_fifth(qh, kk));
}

/* d and m of each lane from its block's first dword: d in the low 16 bits, then Q4_1's and
 * Q5_1's m (the other types have no m: zero, so the min step adds nothing). */
TLM_INLINE void b32_head(int type, b32_unit *o, vi hd)
{
    o->d = b32_f16_lo(hd);
    o->m = b32_has_min(type) ? b32_f16_hi(hd) : vf_zero();
}

/* Rows [VL h, +VL) of unit base g of an interleaved group (interleave.c): Q4_1 and Q5_1 are
 * dword d of every row at 64d; Q5_0 and IQ4_NL the 16 f16 d first, then 4-byte pieces. */
TLM_INLINE void b32_unit_il(int type, b32_unit *o, const char *g, int h, vi book)
{
    vi qh = vi_set1(0), qs[4];
    const char *q;
    if (b32_has_min(type)) {
        b32_head(type, o, b32_load(g + B32_HB * h));
        q = g + 64;
    } else {
        o->d = b32_cvtph(g + 2 * VL * h);
        o->m = vf_zero();
        q = g + 2 * TLM_QROWS;
    }
    if (b32_five(type)) {
        qh = b32_load(q + B32_HB * h);
        q += 64;
    }
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        qs[j] = b32_load(q + 64 * j + B32_HB * h);
    b32_make(type, o, qh, qs, book);
}

/* Block u of rows w (row r at w + r * rb, r < rows; the last row stands in for missing ones)
 * into 16 slots of B32_SLOT bytes, for rows too far apart for 32-bit gather offsets. */
TLM_INLINE void b32_copy(int type, char *slots, const char *w, uint64_t rb, int rows, int64_t u)
{
    const int bb = b32_block(type);
    for (int r = 0; r < TLM_QROWS; r++)
        memcpy(slots + B32_SLOT * r,
               w + (uint64_t)(r < rows ? r : rows - 1) * rb + (uint64_t)(u * bb), (size_t)bb);
}

/* Where the gathers of rows [VL h, +VL) read: row r's block at base + lane r's offset, rows
 * rb bytes apart (the last row standing in past `rows`). */
TLM_INLINE vi b32_lanes(uint64_t rb, int rows, int h)
{
    int32_t at[VL];
    for (int i = 0; i < VL; i++)
        at[i] = (int32_t)((uint64_t)(VL * h + i < rows ? VL * h + i : rows - 1) * rb);
    return vi_load(at);
}

/* Plain rows are gathered in place when 32-bit offsets reach all 16, else from a copy. */
TLM_INLINE bool b32_in_place(uint64_t rb) { return rb <= (INT32_MAX - 64) / TLM_QROWS; }

/* Rows [VL h, +VL) of the block at base + idx (lane by lane): the dwords, by gathers. */
TLM_INLINE void b32_unit_rows(int type, b32_unit *o, const char *base, vi idx, vi book)
{
    b32_head(type, o, b32_gather(base, idx));
    /* the block: d (and m), then qh (5-bit types), then the 16 qs bytes */
    const int qh_at = b32_has_min(type) ? 4 : 2, qs_at = qh_at + (b32_five(type) ? 4 : 0);
    vi qh = b32_five(type) ? b32_gather(base + qh_at, idx) : vi_set1(0), qs[4];
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        qs[j] = b32_gather(base + qs_at + 4 * j, idx);
    b32_make(type, o, qh, qs, book);
}

/* ---- the arithmetic, shared by gemv and the tiles ----------------------------------------- */

/* The float steps of one block for one token (see the top comment). */
TLM_INLINE vf b32_acc(int type, vf a, vi isum, vf d, vf m, const xb32 *xb)
{
    a = vf_fma(vi_to_f32(isum), vf_mul(d, vf_set1(xb->d)), a);
    if (b32_has_min(type)) a = vf_fma(m, vf_set1(xb->sx), a);
    return a;
}

/* The running sums of rows [VL h, +VL) (n of them, at most VL, at least 1), or zeros. */
TLM_INLINE vf b32_sums_load(const float *y, int n, bool accumulate)
{
    return accumulate ? vf_load_m(y, vmask_n(n < VL ? n : VL)) : vf_zero();
}

TLM_INLINE void b32_sums_store(float *y, int n, vf v)
{
    vf_store_m(y, v, vmask_n(n < VL ? n : VL));
}

/* Decode: y[r] = (accumulate ? y[r] : 0) + row r . x over units [u0, u0 + n_units), r < rows,
 * from an interleaved group (il) or plain rows. Two chains of dot products per unit. */
TLM_INLINE void b32_gemv(int type, bool il, float *y, int rows, bool accumulate, const char *w,
                         uint64_t rb, int64_t u0, int64_t n_units, const char *xq, const char *next)
{
    _Alignas(64) char slots[TLM_QROWS * B32_SLOT];
    const vi book = b32_book();
    const bool sgn = b32_sgn(type);
    const int64_t bb = b32_block(type), gb = TLM_QROWS * bb;
    const bool direct = !il && b32_in_place(rb);
    vi idx[B32_NH];
#pragma GCC unroll 2
    for (int h = 0; h < B32_NH; h++)
        idx[h] = direct ? b32_lanes(rb, rows, h) : b32_lanes(B32_SLOT, TLM_QROWS, h);
    vf acc[B32_NH];
#pragma GCC unroll 2
    for (int h = 0; h < B32_NH; h++)
        acc[h] = rows > VL * h ? b32_sums_load(y + VL * h, rows - VL * h, accumulate) : vf_zero();
    tlm_qprefetch pf = tlm_qprefetch_init(next, TLM_QROWS * (int64_t)rb, n_units);
    for (int64_t u = u0; u < u0 + n_units; u++) {
        const xb32 *xb = (const xb32 *)xq + (u - u0);
        tlm_qprefetch_step(&pf);
        if (!il && !direct) b32_copy(type, slots, w, rb, rows, u);
#pragma GCC unroll 2
        for (int h = 0; h < B32_NH; h++) {
            /* laundered per slice: the token's bytes are broadcast where used, not gathered
             * once for both slices into scalar registers and stack copies */
            const xb32 *xh = xb;
            __asm__("" : "+r"(xh));
            b32_unit un;
            if (il)
                b32_unit_il(type, &un, w + u * gb, h, book);
            else
                b32_unit_rows(type, &un, direct ? w + u * bb : slots, idx[h], book);
            vi s0 = vi_set1(xh->corr), s1 = vi_set1(0);
#pragma GCC unroll 4
            for (int kk = 0; kk < 8; kk += 2) {
                s0 = b32_dot4(s0, un.lv[kk], xh->q + 4 * kk, sgn);
                s1 = b32_dot4(s1, un.lv[kk + 1], xh->q + 4 * kk + 4, sgn);
            }
            acc[h] = b32_acc(type, acc[h], vi_add(s0, s1), un.d, un.m, xh);
        }
    }
#pragma GCC unroll 2
    for (int h = 0; h < B32_NH; h++)
        if (rows > VL * h) b32_sums_store(y + VL * h, rows - VL * h, acc[h]);
}

/* A small batch (the gemm of qmatmul_blocked.h): gemv's unit vectors, built once per unit and
 * used by nt (<= B32_NB, a constant after inlining) tokens whose sums stay in registers; VL
 * rows at a time over all the units (AVX2's second slice reads the chunk again from L1:
 * small_batch's chunks fit there). Per lane, the steps of gemv and the tiles in their order. */
TLM_INLINE void b32_gemm(int type, bool il, int nt, float *y, int64_t ldy, int rows,
                         bool accumulate, const char *w, uint64_t rb, int64_t u0, int64_t n_units,
                         const char *xq, int64_t xs, const char *next)
{
    _Alignas(64) char slots[TLM_QROWS * B32_SLOT];
    const vi book = b32_book();
    const bool sgn = b32_sgn(type);
    const int64_t bb = b32_block(type), gb = TLM_QROWS * bb;
    const bool direct = !il && b32_in_place(rb);
    tlm_qprefetch pf = tlm_qprefetch_init(il ? NULL : next, TLM_QROWS * (int64_t)rb, n_units);
    for (int h = 0; h < B32_NH && VL * h < rows; h++) {
        const int n = rows - VL * h;
        const vi idx = direct ? b32_lanes(rb, rows, h) : b32_lanes(B32_SLOT, TLM_QROWS, h);
        vf a[B32_NB];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            a[t] = b32_sums_load(y + t * ldy + VL * h, n, accumulate);
        for (int64_t u = u0; u < u0 + n_units; u++) {
            const char *xu = xq + (u - u0) * (int64_t)sizeof(xb32);
            if (h == 0) tlm_qprefetch_step(&pf);
            if (!il && !direct) b32_copy(type, slots, w, rb, rows, u);
            b32_unit un;
            if (il)
                b32_unit_il(type, &un, w + u * gb, h, book);
            else
                b32_unit_rows(type, &un, direct ? w + u * bb : slots, idx, book);
            vi s[B32_NB];
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                s[t] = vi_set1(((const xb32 *)(xu + t * xs))->corr);
#pragma GCC unroll 8
            for (int kk = 0; kk < 8; kk++)
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    s[t] = vi_chain(
                        b32_dot4(s[t], un.lv[kk], ((const xb32 *)(xu + t * xs))->q + 4 * kk, sgn));
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                a[t] = b32_acc(type, a[t], s[t], un.d, un.m, (const xb32 *)(xu + t * xs));
        }
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            b32_sums_store(y + t * ldy + VL * h, n, a[t]);
    }
}

/* The gemm shapes of GEMM_SMALL_FN (qmatmul_simd.h): rows and groups. */
#define B32_GEMM_ROWS(type, nt, ...) b32_gemm(type, false, nt, __VA_ARGS__)
#define B32_GEMM_IL(type, nt, ...) b32_gemm(type, true, nt, __VA_ARGS__)

/* Prefill: units [u0, u0 + n_units) into dst, B32_PACK bytes each (entry e at 64e, rows
 * [VL h, +VL) at + B32_HB h). */
TLM_INLINE void b32_pack(int type, bool il, char *dst, const char *w, uint64_t rb, int rows,
                         int64_t u0, int64_t n_units)
{
    _Alignas(64) char slots[TLM_QROWS * B32_SLOT];
    const vi book = b32_book();
    const int64_t bb = b32_block(type), gb = TLM_QROWS * bb;
    const bool direct = !il && b32_in_place(rb);
    vi idx[B32_NH];
#pragma GCC unroll 2
    for (int h = 0; h < B32_NH; h++)
        idx[h] = direct ? b32_lanes(rb, rows, h) : b32_lanes(B32_SLOT, TLM_QROWS, h);
    for (int64_t u = u0; u < u0 + n_units; u++, dst += B32_PACK) {
        if (!il && !direct) b32_copy(type, slots, w, rb, rows, u);
#pragma GCC unroll 2
        for (int h = 0; h < B32_NH; h++) {
            b32_unit un;
            if (il)
                b32_unit_il(type, &un, w + u * gb, h, book);
            else
                b32_unit_rows(type, &un, direct ? w + u * bb : slots, idx[h], book);
#pragma GCC unroll 8
            for (int kk = 0; kk < 8; kk++)
                b32_store(dst + 64 * kk + B32_HB * h, un.lv[kk]);
            b32_store(dst + 512 + B32_HB * h, b32_castf(un.d));
            b32_store(dst + 576 + B32_HB * h, b32_castf(un.m));
        }
    }
}

/* y[t * ldy + r] (+)= row r . token t for r < rows, t < nr: each level entry loaded once per
 * unit serves nr tokens. */
TLM_INLINE void b32_tile(int type, int nr, float *y, int64_t ldy, int rows, bool accumulate,
                         const char *p, int64_t n_units, const char *xq, int64_t xs)
{
    const bool sgn = b32_sgn(type);
    for (int h = 0; h < B32_NH && VL * h < rows; h++) {
        const int n = rows - VL * h;
        vf a[B32_NR];
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            a[t] = b32_sums_load(y + t * ldy + VL * h, n, accumulate);
        const char *pu = p + B32_HB * h;
        for (int64_t u = 0; u < n_units; u++, pu += B32_PACK) {
            const char *xu = xq + u * (int64_t)sizeof(xb32);
            vi s[B32_NR];
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++)
                s[t] = vi_set1(((const xb32 *)(xu + t * xs))->corr);
#pragma GCC unroll 8
            for (int kk = 0; kk < 8; kk++) {
                const vi wv = b32_load(pu + 64 * kk);
#pragma GCC unroll 8
                for (int t = 0; t < nr; t++)
                    s[t] = b32_dot4(s[t], wv, ((const xb32 *)(xu + t * xs))->q + 4 * kk, sgn);
            }
            const vf d = vf_load((const float *)(pu + 512)), m = vf_load((const float *)(pu + 576));
#pragma GCC unroll 8
            for (int t = 0; t < nr; t++)
                a[t] = b32_acc(type, a[t], s[t], d, m, (const xb32 *)(xu + t * xs));
        }
#pragma GCC unroll 8
        for (int t = 0; t < nr; t++)
            b32_sums_store(y + t * ldy + VL * h, n, a[t]);
    }
}

/* ---- the slots: per type, the ops of qmatmul_blocked.h on rows and on groups -------------- */

#define B32_TILE_CASE(type, n)                                                                     \
    case n:                                                                                        \
        b32_tile(type, (n) < B32_NR ? (n) : B32_NR, y, ldy, rows, acc, p, n_units, xq, xs);        \
        break;

#define B32_FNS(suffix, type)                                                                      \
    static void quantize_##suffix(void *xq, const float *x, int64_t n_units)                       \
    {                                                                                              \
        b32_quantize(type, xq, x, n_units);                                                        \
    }                                                                                              \
    static void pack_##suffix(void *dst, const char *w, uint64_t rb, int rows, int64_t u0,         \
                              int64_t n_units)                                                     \
    {                                                                                              \
        b32_pack(type, false, dst, w, rb, rows, u0, n_units);                                      \
    }                                                                                              \
    static void pack_il_##suffix(void *dst, const char *w, uint64_t rb, int rows, int64_t u0,      \
                                 int64_t n_units)                                                  \
    {                                                                                              \
        b32_pack(type, true, dst, w, rb, rows, u0, n_units);                                       \
    }                                                                                              \
    static void gemv_##suffix(float *y, int rows, bool acc, const char *w, uint64_t rb,            \
                              int64_t u0, int64_t n_units, const char *xq, const char *next)       \
    {                                                                                              \
        b32_gemv(type, false, y, rows, acc, w, rb, u0, n_units, xq, next);                         \
    }                                                                                              \
    static void gemv_il_##suffix(float *y, int rows, bool acc, const char *w, uint64_t rb,         \
                                 int64_t u0, int64_t n_units, const char *xq, const char *next)    \
    {                                                                                              \
        b32_gemv(type, true, y, rows, acc, w, rb, u0, n_units, xq, next);                          \
    }                                                                                              \
    static void tile_##suffix(float *y, int64_t ldy, int rows, bool acc, int nr, const void *p,    \
                              int64_t n_units, const char *xq, int64_t xs)                         \
    {                                                                                              \
        switch (nr) { /* a body per token count */                                                 \
            B32_TILE_CASE(type, 1)                                                                 \
            B32_TILE_CASE(type, 2)                                                                 \
            B32_TILE_CASE(type, 3)                                                                 \
            B32_TILE_CASE(type, 4)                                                                 \
            B32_TILE_CASE(type, 5)                                                                 \
        default:                                                                                   \
            b32_tile(type, B32_NR, y, ldy, rows, acc, p, n_units, xq, xs);                         \
            break;                                                                                 \
        }                                                                                          \
    }                                                                                              \
    GEMM_SMALL_FN(gemm_##suffix, B32_GEMM_ROWS, type, B32_NB)                                      \
    GEMM_SMALL_FN(gemm_il_##suffix, B32_GEMM_IL, type, B32_NB)                                     \
    static const tlm_qmatmul_ops ops_##suffix = {.unit = 32,                                       \
                                                 .unit_bytes = sizeof(block_##suffix),             \
                                                 .pack_bytes = B32_PACK,                           \
                                                 .x_bytes = sizeof(xb32),                          \
                                                 .nr = B32_NR,                                     \
                                                 .quantize_x = quantize_##suffix,                  \
                                                 .pack = pack_##suffix,                            \
                                                 .tile = tile_##suffix,                            \
                                                 .gemv = gemv_##suffix,                            \
                                                 .gemm = gemm_##suffix,                            \
                                                 .nb = B32_NB};                                    \
    static const tlm_qmatmul_ops ops_il_##suffix = {.unit = 32,                                    \
                                                    .unit_bytes = sizeof(block_##suffix),          \
                                                    .pack_bytes = B32_PACK,                        \
                                                    .x_bytes = sizeof(xb32),                       \
                                                    .nr = B32_NR,                                  \
                                                    .quantize_x = quantize_##suffix,               \
                                                    .pack = pack_il_##suffix,                      \
                                                    .tile = tile_##suffix,                         \
                                                    .gemv = gemv_il_##suffix,                      \
                                                    .gemm = gemm_il_##suffix,                      \
                                                    .nb = B32_NB};                                 \
    TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_##suffix), tlm_qmatmul_blocked, ops_##suffix)           \
    TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_il_##suffix), tlm_qmatmul_il, ops_il_##suffix)

B32_FNS(q4_1, TLM_DT_Q4_1)
B32_FNS(q5_0, TLM_DT_Q5_0)
B32_FNS(q5_1, TLM_DT_Q5_1)
B32_FNS(iq4_nl, TLM_DT_IQ4_NL)
