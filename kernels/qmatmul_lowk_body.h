/* qmatmul_lowk_body.h - the Q2_K, Q3_K and IQ4_XS matmuls, written once in the vector API of
 * simd_<isa>.h and run by the shared loop nest of qmatmul_blocked.c; compiled per ISA by
 * qmatmul_lowk_<isa>.c, which defines before including it:
 *   LOWK_OFFSET      added to every level byte when packing (0: the levels stay signed bytes;
 *                    128: unsigned, for vpdpbusd), taken back out through the activations'
 *                    sums per 16;
 *   lowk_dot4(a, w, x4)  a + per int32 lane the sum of its 4 level bytes times the 4 bytes of
 *                    x4 (signed), exact;
 *   lowk_mul(a, b)   the int32 lane products;
 *   QMATMUL_FN(name) the slot's name for the ISA.
 *
 * Every block (and so every unit of the loop nest) goes through the common form of
 * quant_lowk.h: packing unpacks 16 rows of a unit at a time into lanes (lane r = row r),
 * so decode packs too (no gemv): one body serves the three types and both token counts.
 * Packed unit, each entry 64 bytes = 16 lanes of 4 bytes:
 *   [64] levels 4k .. 4k + 3 of every row, [16] sub-block scales (int32), [16] mins (int32),
 *   d (float), dmin (float).
 * The float steps are qmatmul_lowk_ref.c's, unfused and in its order, so the bits are its. */
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

static void lowk_pack(int type, int64_t block_bytes, void *dst, const char *w,
                      uint64_t w_row_bytes, int rows, int64_t u0, int64_t n_units)
{
    tlm_lowk_unit lu;
    for (int64_t u = u0; u < u0 + n_units; u++) {
        char *o = (char *)dst + (u - u0) * LK_PACK;
        for (int r = 0; r < TLM_QROWS; r++) {
            const char *row = w + (uint64_t)(r < rows ? r : rows - 1) * w_row_bytes;
            tlm_lowk_unpack(type, &lu, row + u * block_bytes);
            for (int k = 0; k < 64; k++) {
                uint8_t b[4];
                for (int j = 0; j < 4; j++)
                    b[j] = (uint8_t)(lu.w[4 * k + j] + LOWK_OFFSET);
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
}

TLM_INLINE int32_t lowk_x4(const int8_t *q)
{
    int32_t v;
    memcpy(&v, q, 4);
    return v;
}

/* nr (a constant after inlining) tokens against the packed units, VL rows at a time. */
TLM_INLINE void lowk_tile(bool has_min, int nr, float *y, int64_t ldy, int rows, bool accumulate,
                          const char *packed, int64_t n_units, const char *xq, int64_t xs)
{
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
                    if (LOWK_OFFSET) sub = vi_sub(sub, vi_set1(LOWK_OFFSET * xb->s16[s]));
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

/* The pack, tile and slot of one type; the tile body is specialised per token count. */
#define LOWK_TYPE(suffix, type, block, has_min)                                                    \
    static void pack_##suffix(void *dst, const char *w, uint64_t w_row_bytes, int rows,            \
                              int64_t u0, int64_t n_units)                                         \
    {                                                                                              \
        lowk_pack(type, sizeof(block), dst, w, w_row_bytes, rows, u0, n_units);                    \
    }                                                                                              \
    static void tile_##suffix(float *y, int64_t ldy, int rows, bool acc, int nr,                   \
                              const void *packed, int64_t n_units, const char *xq, int64_t xs)     \
    {                                                                                              \
        switch (nr) {                                                                              \
        case 1: lowk_tile(has_min, 1, y, ldy, rows, acc, packed, n_units, xq, xs); break;          \
        case 2: lowk_tile(has_min, 2, y, ldy, rows, acc, packed, n_units, xq, xs); break;          \
        case 3: lowk_tile(has_min, 3, y, ldy, rows, acc, packed, n_units, xq, xs); break;          \
        default: lowk_tile(has_min, LK_NR, y, ldy, rows, acc, packed, n_units, xq, xs); break;     \
        }                                                                                          \
    }                                                                                              \
    static const tlm_qmatmul_ops ops_##suffix = {.unit = QK_K,                                     \
                                                 .unit_bytes = sizeof(block),                      \
                                                 .pack_bytes = LK_PACK,                            \
                                                 .x_bytes = sizeof(xq256),                         \
                                                 .nr = LK_NR,                                      \
                                                 .quantize_x = quantize_x256,                      \
                                                 .pack = pack_##suffix,                            \
                                                 .tile = tile_##suffix,                            \
                                                 .gemv = NULL};                                    \
    TLM_QMATMUL_SLOT(QMATMUL_FN(tlm_matmul_##suffix), tlm_qmatmul_blocked, ops_##suffix)

LOWK_TYPE(q2_K, TLM_DT_Q2_K, block_q2_K, true)
LOWK_TYPE(q3_K, TLM_DT_Q3_K, block_q3_K, false)
LOWK_TYPE(iq4_xs, TLM_DT_IQ4_XS, block_iq4_xs, false)
