/* qmatmul_neon_body.h - the quantized matmuls (Q8_0, Q4_0, Q4_K, Q5_K, Q6_K) on AArch64,
 * written once and compiled per level by qmatmul_neon.c (widening multiplies: SMULL/SMLAL2 and
 * SADALP), qmatmul_dotprod.c (SDOT, QDOT_SDOT) and qmatmul_i8mm.c (SDOT, and SMMLA for prefill
 * tiles of 2 rows x 2 tokens of every type read from rows, QDOT_I8MM), each of which defines
 * QMATMUL_FN(name) first.
 *
 * Numbers: those of qmatmul_ref.c, bit for bit. The activations are quantized by
 * qmatmul_simd.h's quantizers (the reference's rule, lane by lane); every per-block integer
 * sum is exact in int32 whichever instruction forms it; and the float accumulator of an
 * output takes the blocks in order of k with the reference's expressions, unfused (ISO C
 * mode: no contraction), so any level, tile shape, token count or row split gives the
 * reference's bits.
 *
 * Loops: the row slots read plain GGUF rows; at the dot-product levels the il slots of Q8_0 and
 * Q4_0 read 4-row groups (kernels.h, TLM_IL_SDOT4) with the 4 rows in the lanes of one
 * accumulator, the same integer sums and the same float steps per lane. Tokens are quantized TB at
 * a time, a chunk of k at a time (y holds the running sums between chunks, as in the reference);
 * each weight row's chunk is unpacked once per tile of up to NT tokens and meets every token of the
 * tile from registers. */
#include "kernels_impl.h"
#include "quant.h"
#include "quant_unpack.h"
#include "quant_unpack_neon.h"

#define QX_Q8_OFFSET 0
#include "qmatmul_simd.h"

enum {
    QCHUNK = 4096, /* activation elements per chunk: a multiple of 256 */
    TB = 16,       /* tokens quantized per batch */
    NT = 4,        /* tokens per tile */
};

/* ---- exact int8 dot products ---------------------------------------------------------- */

/* acc + the 16 products w[i] q[i], spread over 4 int32 lanes. */
TLM_INLINE int32x4_t dot16(int32x4_t acc, int8x16_t w, int8x16_t q)
{
#if defined(QDOT_SDOT) || defined(QDOT_I8MM)
    return vdotq_s32(acc, w, q);
#else
    /* two products per int16 lane: |sum| <= 2 * 128 * 127 < 2^15 */
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(q));
    p = vmlal_high_s8(p, w, q);
    return vpadalq_s16(acc, p);
#endif
}

TLM_INLINE int32_t isum16(int8x16_t w, const int8_t *q)
{
    return vaddvq_s32(dot16(vdupq_n_s32(0), w, vld1q_s8(q)));
}

TLM_INLINE int32_t isum32(int8x16_t w0, int8x16_t w1, const int8_t *q)
{
    int32x4_t s = dot16(vdupq_n_s32(0), w0, vld1q_s8(q));
    return vaddvq_s32(dot16(s, w1, vld1q_s8(q + 16)));
}

/* ---- one block of a weight row against the tokens of a tile ----------------------------- */

/* Row block `blk` (type constant after inlining) against unit u of each of nt tokens (token t's
 * units at xq + t * xs): acc[t] as the reference's block_dot would leave it. */
TLM_INLINE void block_tile(int type, float *acc, const char *row, int64_t blk, const char *xq,
                           int64_t xs, int64_t u, int nt)
{
    if (type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0) {
        int8x16_t w0, w1;
        float dw;
        if (type == TLM_DT_Q8_0) {
            const block_q8_0 *b = (const block_q8_0 *)row + blk;
            w0 = vld1q_s8(b->qs);
            w1 = vld1q_s8(b->qs + 16);
            dw = f16_at((const uint8_t *)&b->d);
        } else { /* levels 0..15; the - 8 comes back through the activations' corr */
            const block_q4_0 *b = (const block_q4_0 *)row + blk;
            int8x16_t w2[2];
            unpack_q4_0(w2, b);
            w0 = w2[0], w1 = w2[1];
            dw = f16_at((const uint8_t *)&b->d);
        }
        for (int t = 0; t < nt; t++) {
            const xq32 *x = (const xq32 *)(xq + t * xs) + u;
            int32_t isum = isum32(w0, w1, x->q) + x->corr;
            acc[t] = acc[t] + (float)isum * (dw * x->d);
        }
    } else if (type == TLM_DT_Q4_K || type == TLM_DT_Q5_K) {
        const uint8_t *scales, *qs, *qh = NULL;
        float dw, dmin;
        if (type == TLM_DT_Q4_K) {
            const block_q4_K *b = (const block_q4_K *)row + blk;
            scales = b->scales, qs = b->qs;
            dw = f16_at((const uint8_t *)&b->d), dmin = f16_at((const uint8_t *)&b->dmin);
        } else {
            const block_q5_K *b = (const block_q5_K *)row + blk;
            scales = b->scales, qs = b->qs, qh = b->qh;
            dw = f16_at((const uint8_t *)&b->d), dmin = f16_at((const uint8_t *)&b->dmin);
        }
        int sc[8], m[8];
        for (int s = 0; s < 8; s++)
            k4_scale_min(scales, s, &sc[s], &m[s]);
        int8x16_t w[16]; /* sub-block s: w[2s], w[2s + 1] */
        unpack_k4(w, qs, qh);
        for (int t = 0; t < nt; t++) {
            const xq256 *x = (const xq256 *)(xq + t * xs) + u;
            int32_t isum = 0, msum = 0;
#pragma GCC unroll 8
            for (int s = 0; s < 8; s++) {
                isum += sc[s] * isum32(w[2 * s], w[2 * s + 1], x->q + 32 * s);
                msum += m[s] * x->s32[s];
            }
            acc[t] = acc[t] + (float)isum * (dw * x->d);
            acc[t] = acc[t] - (float)msum * (dmin * x->d);
        }
    } else { /* Q6_K */
        const block_q6_K *b = (const block_q6_K *)row + blk;
        const float dw = f16_at((const uint8_t *)&b->d);
        int8x16_t w[16]; /* sub-block s of 16 */
        unpack_q6_K(w, b);
        for (int t = 0; t < nt; t++) {
            const xq256 *x = (const xq256 *)(xq + t * xs) + u;
            int32_t isum = 0;
#pragma GCC unroll 16
            for (int s = 0; s < 16; s++)
                isum += b->scales[s] * isum16(w[s], x->q + 16 * s);
            acc[t] = acc[t] + (float)isum * (dw * x->d);
        }
    }
}

#if defined(QDOT_I8MM)
/* Q8_0 / Q4_0 rows r, r + 1 against tokens t, t + 1 by SMMLA: each instruction multiplies 8
 * bytes of both rows by 8 bytes of both tokens into the 2 x 2 int32 sums
 * (r t, r t+1, r+1 t, r+1 t+1); the sums are the exact ones block_tile forms. */
TLM_INLINE void block_pair_mm(int type, float acc[2][2], const char *row0, const char *row1,
                              int64_t blk, const xq32 *x0, const xq32 *x1)
{
    int8x16_t w[2][2];
    float dw[2];
    const char *rows[2] = {row0, row1};
    for (int i = 0; i < 2; i++) {
        if (type == TLM_DT_Q8_0) {
            const block_q8_0 *b = (const block_q8_0 *)rows[i] + blk;
            w[i][0] = vld1q_s8(b->qs), w[i][1] = vld1q_s8(b->qs + 16);
            dw[i] = f16_at((const uint8_t *)&b->d);
        } else {
            const block_q4_0 *b = (const block_q4_0 *)rows[i] + blk;
            unpack_q4_0(w[i], b);
            dw[i] = f16_at((const uint8_t *)&b->d);
        }
    }
    int32x4_t s = vdupq_n_s32(0);
#pragma GCC unroll 2
    for (int hlf = 0; hlf < 2; hlf++) {
        int64x2_t a0 = vreinterpretq_s64_s8(w[0][hlf]), a1 = vreinterpretq_s64_s8(w[1][hlf]);
        int64x2_t b0 = vreinterpretq_s64_s8(vld1q_s8(x0->q + 16 * hlf));
        int64x2_t b1 = vreinterpretq_s64_s8(vld1q_s8(x1->q + 16 * hlf));
        s = vmmlaq_s32(s, vreinterpretq_s8_s64(vzip1q_s64(a0, a1)),
                       vreinterpretq_s8_s64(vzip1q_s64(b0, b1)));
        s = vmmlaq_s32(s, vreinterpretq_s8_s64(vzip2q_s64(a0, a1)),
                       vreinterpretq_s8_s64(vzip2q_s64(b0, b1)));
    }
    const xq32 *x[2] = {x0, x1};
    int32_t lane[4]; /* (row 0, token 0), (0, 1), (1, 0), (1, 1) */
    vst1q_s32(lane, s);
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < 2; t++) {
            int32_t isum = lane[2 * i + t] + x[t]->corr;
            acc[i][t] = acc[i][t] + (float)isum * (dw[i] * x[t]->d);
        }
}

/* 16 level bytes of rows 0 and 1 against 16 bytes of tokens 0 and 1: 2 SMMLA into the 2 x 2
 * sums (row 0 token 0, 0 1, 1 0, 1 1). */
TLM_INLINE int32x4_t mm16(int8x16_t a0, int8x16_t a1, const int8_t *q0, const int8_t *q1)
{
    int64x2_t r0 = vreinterpretq_s64_s8(a0), r1 = vreinterpretq_s64_s8(a1);
    int64x2_t b0 = vreinterpretq_s64_s8(vld1q_s8(q0)), b1 = vreinterpretq_s64_s8(vld1q_s8(q1));
    int32x4_t s = vmmlaq_s32(vdupq_n_s32(0), vreinterpretq_s8_s64(vzip1q_s64(r0, r1)),
                             vreinterpretq_s8_s64(vzip1q_s64(b0, b1)));
    return vmmlaq_s32(s, vreinterpretq_s8_s64(vzip2q_s64(r0, r1)),
                      vreinterpretq_s8_s64(vzip2q_s64(b0, b1)));
}

/* The K-quants' rows r, r + 1 against tokens t, t + 1: each sub-block's 2 x 2 integer sums by
 * SMMLA, times the rows' sub-block scales (lanes (sc0, sc0, sc1, sc1)) and summed in int32
 * lanes: the exact isum block_tile forms for each (row, token), with no horizontal add per
 * sub-block. The mins and the float steps are block_tile's, in its order. */
TLM_INLINE void block_pair_mm_k(int type, float acc[2][2], const char *row0, const char *row1,
                                int64_t blk, const xq256 *x0, const xq256 *x1)
{
    const char *rows[2] = {row0, row1};
    const xq256 *x[2] = {x0, x1};
    int32x4_t isum = vdupq_n_s32(0);
    float dw[2], dmin[2] = {0, 0};
    int32_t msum[2][2] = {{0, 0}, {0, 0}};
    if (type == TLM_DT_Q6_K) {
        int8x16_t w[2][16];
        for (int i = 0; i < 2; i++) {
            const block_q6_K *b = (const block_q6_K *)rows[i] + blk;
            unpack_q6_K(w[i], b);
            dw[i] = f16_at((const uint8_t *)&b->d);
        }
        const int8_t *sc0 = ((const block_q6_K *)row0 + blk)->scales;
        const int8_t *sc1 = ((const block_q6_K *)row1 + blk)->scales;
#pragma GCC unroll 16
        for (int s = 0; s < 16; s++) {
            int32x4_t p = mm16(w[0][s], w[1][s], x0->q + 16 * s, x1->q + 16 * s);
            int32x4_t scv = vcombine_s32(vdup_n_s32(sc0[s]), vdup_n_s32(sc1[s]));
            isum = vmlaq_s32(isum, p, scv);
        }
    } else {
        int8x16_t w[2][16];
        int sc[2][8], m[2][8];
        for (int i = 0; i < 2; i++) {
            const uint8_t *scales, *qs, *qh = NULL;
            if (type == TLM_DT_Q4_K) {
                const block_q4_K *b = (const block_q4_K *)rows[i] + blk;
                scales = b->scales, qs = b->qs;
                dw[i] = f16_at((const uint8_t *)&b->d), dmin[i] = f16_at((const uint8_t *)&b->dmin);
            } else {
                const block_q5_K *b = (const block_q5_K *)rows[i] + blk;
                scales = b->scales, qs = b->qs, qh = b->qh;
                dw[i] = f16_at((const uint8_t *)&b->d), dmin[i] = f16_at((const uint8_t *)&b->dmin);
            }
            for (int s = 0; s < 8; s++)
                k4_scale_min(scales, s, &sc[i][s], &m[i][s]);
            unpack_k4(w[i], qs, qh);
        }
#pragma GCC unroll 8
        for (int s = 0; s < 8; s++) {
            int32x4_t p = mm16(w[0][2 * s], w[1][2 * s], x0->q + 32 * s, x1->q + 32 * s);
            p = vaddq_s32(p, mm16(w[0][2 * s + 1], w[1][2 * s + 1], x0->q + 32 * s + 16,
                                  x1->q + 32 * s + 16));
            int32x4_t scv = vcombine_s32(vdup_n_s32(sc[0][s]), vdup_n_s32(sc[1][s]));
            isum = vmlaq_s32(isum, p, scv);
        }
        for (int i = 0; i < 2; i++)
            for (int t = 0; t < 2; t++)
                for (int s = 0; s < 8; s++)
                    msum[i][t] += m[i][s] * x[t]->s32[s];
    }
    int32_t lane[4]; /* (row 0, token 0), (0, 1), (1, 0), (1, 1) */
    vst1q_s32(lane, isum);
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < 2; t++) {
            acc[i][t] = acc[i][t] + (float)lane[2 * i + t] * (dw[i] * x[t]->d);
            if (type != TLM_DT_Q6_K)
                acc[i][t] = acc[i][t] - (float)msum[i][t] * (dmin[i] * x[t]->d);
        }
}
#endif

#if defined(QDOT_SDOT) || defined(QDOT_I8MM)
/* ---- 4-row groups (kernels.h, TLM_IL_SDOT4): Q8_0 and Q4_0 at the dot-product levels ------ */

/* Block u of a group (its 4 scales, then 16-byte pieces of 4 level bytes of each row) against
 * nt tokens: lane r of acc[t] is row r, left as block_tile leaves its acc. One SDOT by element
 * takes one token's 4 activation bytes (lane k of its levels) against a piece. */
TLM_INLINE void il_block(int type, float32x4_t *acc, const uint8_t *gb, const char *xq, int64_t xs,
                         int64_t u, int nt)
{
    const float32x4_t dw = vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(gb)));
    int8x16_t p[8]; /* Q8_0: pieces 0..7; Q4_0: low nibbles 0..3, then high nibbles 0..3 */
    if (type == TLM_DT_Q8_0) {
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            p[k] = vld1q_s8((const int8_t *)gb + 8 + 16 * k);
    } else { /* byte j of a Q4_0 row: element j (low nibble), element j + 16 (high) */
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            uint8x16_t v = vld1q_u8(gb + 8 + 16 * k);
            p[k] = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(15)));
            p[k + 4] = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < nt; t++) {
        const xq32 *x = (const xq32 *)(xq + t * xs) + u;
        const int8x16_t xa = vld1q_s8(x->q), xb = vld1q_s8(x->q + 16);
        /* two chains of 4 SDOTs (latency), then one exact integer add */
        int32x4_t s = vdupq_n_s32(x->corr), s1 = vdupq_n_s32(0);
        s = vdotq_laneq_s32(s, p[0], xa, 0);
        s1 = vdotq_laneq_s32(s1, p[4], xb, 0);
        s = vdotq_laneq_s32(s, p[1], xa, 1);
        s1 = vdotq_laneq_s32(s1, p[5], xb, 1);
        s = vdotq_laneq_s32(s, p[2], xa, 2);
        s1 = vdotq_laneq_s32(s1, p[6], xb, 2);
        s = vdotq_laneq_s32(s, p[3], xa, 3);
        s1 = vdotq_laneq_s32(s1, p[7], xb, 3);
        s = vaddq_s32(s, s1);
        /* acc + (float)isum * (dw * d), per lane, unfused as the reference */
        acc[t] = vaddq_f32(acc[t], vmulq_f32(vcvtq_f32_s32(s), vmulq_n_f32(dw, x->d)));
    }
}

/* Rows lo .. hi - 1 of a group (at grp, block column by block column, bb bytes each) against
 * nt tokens: y (token t's row at y + t * ldy) holds the sums so far unless `first`. */
TLM_INLINE void il_tile(int type, float *y, int64_t ldy, const uint8_t *grp, uint64_t bb,
                        int64_t n_units, const char *xq, int64_t xs, int nt, bool first, int lo,
                        int hi)
{
    float32x4_t acc[NT]; /* lane r: row r; registers when nt is a constant */
    for (int i = 0; i < nt; i++) {
        _Alignas(16) float v[4] = {0, 0, 0, 0};
        if (!first) memcpy(v + lo, y + i * ldy + lo, (size_t)(hi - lo) * sizeof(float));
        acc[i] = vld1q_f32(v);
    }
    for (int64_t u = 0; u < n_units; u++)
        il_block(type, acc, grp + (uint64_t)u * bb, xq, xs, u, nt);
    for (int i = 0; i < nt; i++) {
        _Alignas(16) float v[4];
        vst1q_f32(v, acc[i]);
        memcpy(y + i * ldy + lo, v + lo, (size_t)(hi - lo) * sizeof(float));
    }
}

/* Rows [r0, r1) of a grouped matrix against the nb quantized tokens at xq (units blk0 ..
 * blk0 + n_units): a range starting or ending inside a group computes the group whole and
 * stores only its own rows. */
TLM_INLINE void il_rows(int type, float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                        int64_t blk0, int64_t n_units, const char *xq, int64_t xs, int nb,
                        bool first, int64_t r0, int64_t r1)
{
    const uint64_t bb = 4 * (type == TLM_DT_Q8_0 ? sizeof(block_q8_0) : sizeof(block_q4_0));
    for (int64_t g0 = r0 - r0 % 4; g0 < r1; g0 += 4) {
        const uint8_t *grp = (const uint8_t *)w + (uint64_t)g0 * w_row_bytes + (uint64_t)blk0 * bb;
        const int lo = r0 > g0 ? (int)(r0 - g0) : 0, hi = r1 - g0 < 4 ? (int)(r1 - g0) : 4;
        for (int t = 0; t < nb; t += NT) { /* full tiles and decode with constant widths */
            const int nt = nb - t < NT ? nb - t : NT;
            float *yt = y + t * ldy + g0;
            const char *xt = xq + t * xs;
            if (nt == NT)
                il_tile(type, yt, ldy, grp, bb, n_units, xt, xs, NT, first, lo, hi);
            else if (nt == 1)
                il_tile(type, yt, ldy, grp, bb, n_units, xt, xs, 1, first, lo, hi);
            else
                il_tile(type, yt, ldy, grp, bb, n_units, xt, xs, nt, first, lo, hi);
        }
    }
}
#endif

/* ---- the loop nest ------------------------------------------------------------------------ */

TLM_INLINE void qmatmul(int type, bool il, float *y, int64_t ldy, const void *w,
                        uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok,
                        int64_t n_in, int64_t r0, int64_t r1)
{
    const int unit = type == TLM_DT_Q8_0 || type == TLM_DT_Q4_0 ? 32 : 256;
    const int64_t x_bytes = unit == 32 ? (int64_t)sizeof(xq32) : (int64_t)sizeof(xq256);
    const int64_t xs = QCHUNK / unit * x_bytes; /* one token's quantized chunk */
    _Alignas(16) char xq[TB * (QCHUNK / 32) * sizeof(xq32) > TB * (QCHUNK / 256) * sizeof(xq256)
                             ? TB * (QCHUNK / 32) * sizeof(xq32)
                             : TB * (QCHUNK / 256) * sizeof(xq256)];
    for (int64_t t0 = 0; t0 < n_tok; t0 += TB) {
        const int nb = (int)(n_tok - t0 < TB ? n_tok - t0 : TB);
        if (n_in == 0) /* an empty sum */
            for (int t = 0; t < nb; t++)
                for (int64_t r = r0; r < r1; r++)
                    y[(t0 + t) * ldy + r] = 0.0f;
        for (int64_t k0 = 0; k0 < n_in; k0 += QCHUNK) {
            const int64_t n_units = (n_in - k0 < QCHUNK ? n_in - k0 : QCHUNK) / unit;
            for (int t = 0; t < nb; t++) {
                const float *xt = x + (t0 + t) * ldx + k0;
                if (type == TLM_DT_Q8_0)
                    quantize_x_q8_0(xq + t * xs, xt, n_units);
                else if (type == TLM_DT_Q4_0)
                    quantize_x_q4_0(xq + t * xs, xt, n_units);
                else
                    quantize_x256(xq + t * xs, xt, n_units);
            }
            const int64_t blk0 = k0 / unit;
#if defined(QDOT_SDOT) || defined(QDOT_I8MM)
            if (il) {
                il_rows(type, y + t0 * ldy, ldy, w, w_row_bytes, blk0, n_units, xq, xs, nb, k0 == 0,
                        r0, r1);
                continue;
            }
#endif
            int64_t r = r0;
#if defined(QDOT_I8MM)
            if (nb >= 2)
                for (; r + 2 <= r1; r += 2) {
                    const char *row0 = (const char *)w + (uint64_t)r * w_row_bytes;
                    const char *row1 = row0 + w_row_bytes;
                    int t = 0;
                    for (; t + 2 <= nb; t += 2) {
                        float *y0 = y + (t0 + t) * ldy + r, *y1 = y0 + ldy;
                        float acc[2][2] = {{k0 == 0 ? 0.0f : y0[0], k0 == 0 ? 0.0f : y1[0]},
                                           {k0 == 0 ? 0.0f : y0[1], k0 == 0 ? 0.0f : y1[1]}};
                        for (int64_t u = 0; u < n_units; u++) {
                            if (unit == 32)
                                block_pair_mm(type, acc, row0, row1, blk0 + u,
                                              (const xq32 *)(xq + t * xs) + u,
                                              (const xq32 *)(xq + (t + 1) * xs) + u);
                            else
                                block_pair_mm_k(type, acc, row0, row1, blk0 + u,
                                                (const xq256 *)(xq + t * xs) + u,
                                                (const xq256 *)(xq + (t + 1) * xs) + u);
                        }
                        y0[0] = acc[0][0], y1[0] = acc[0][1], y0[1] = acc[1][0], y1[1] = acc[1][1];
                    }
                    for (; t < nb; t++) /* an odd last token */
                        for (int i = 0; i < 2; i++) {
                            float *yt = y + (t0 + t) * ldy + r + i;
                            float acc = k0 == 0 ? 0.0f : *yt;
                            for (int64_t u = 0; u < n_units; u++)
                                block_tile(type, &acc, i ? row1 : row0, blk0 + u, xq + t * xs, xs,
                                           u, 1);
                            *yt = acc;
                        }
                }
#endif
            for (; r < r1; r++) {
                const char *row = (const char *)w + (uint64_t)r * w_row_bytes;
                for (int t = 0; t < nb; t += NT) {
                    const int nt = nb - t < NT ? nb - t : NT;
                    float acc[NT];
                    for (int i = 0; i < nt; i++)
                        acc[i] = k0 == 0 ? 0.0f : y[(t0 + t + i) * ldy + r];
                    /* one body per tile width, the accumulators in registers */
                    for (int64_t u = 0; u < n_units; u++) {
                        if (nt == NT)
                            block_tile(type, acc, row, blk0 + u, xq + t * xs, xs, u, NT);
                        else
                            block_tile(type, acc, row, blk0 + u, xq + t * xs, xs, u, nt);
                    }
                    for (int i = 0; i < nt; i++)
                        y[(t0 + t + i) * ldy + r] = acc[i];
                }
            }
        }
    }
}

#define QMATMUL_SLOT(name, type, il)                                                               \
    void QMATMUL_FN(name)(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,              \
                          const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,    \
                          int64_t r1)                                                              \
    {                                                                                              \
        qmatmul(type, il, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);                    \
    }

QMATMUL_SLOT(tlm_matmul_q8_0, TLM_DT_Q8_0, false)
QMATMUL_SLOT(tlm_matmul_q4_0, TLM_DT_Q4_0, false)
QMATMUL_SLOT(tlm_matmul_q4_K, TLM_DT_Q4_K, false)
QMATMUL_SLOT(tlm_matmul_q5_K, TLM_DT_Q5_K, false)
QMATMUL_SLOT(tlm_matmul_q6_K, TLM_DT_Q6_K, false)
#if defined(QDOT_SDOT) || defined(QDOT_I8MM)
QMATMUL_SLOT(tlm_matmul_il_q8_0, TLM_DT_Q8_0, true)
QMATMUL_SLOT(tlm_matmul_il_q4_0, TLM_DT_Q4_0, true)
#endif
