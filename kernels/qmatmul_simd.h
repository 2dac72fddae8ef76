/* qmatmul_simd.h - what the SIMD quantized matmul files (qmatmul_avx2.c,
 * qmatmul_avx512vnni.c) share: the quantized activations and their quantizers (written once
 * in the vector API of simd_<isa>.h), a group of 16 weight rows and how to address it, and
 * the packed layout. Each file includes it after its simd header, having defined
 *   QX_Q8_OFFSET  what its Q8_0 tiles add to every level (VNNI: 128, to make them unsigned)
 * and ends by including qmatmul_slots.h, which instantiates the per-type functions and the
 * matmul slots. Only the loads, the dot products and the tiles are per instruction set. */
#ifndef TLM_QMATMUL_SIMD_H
#define TLM_QMATMUL_SIMD_H

#include "kernels_impl.h"
#include "qmatmul_blocked.h"
#include "quant.h"

/* ---- quantized activations (the rule is in qmatmul_ref.c) ----------------------------- */

typedef struct xq32 { /* one block of 32 for Q8_0 and Q4_0 weights */
    int8_t q[32];
    float d;
    int32_t corr; /* -offset * sum(q): the packed levels' offset taken back out */
} xq32;

typedef struct xq256 { /* one block of 256 for the K-quants */
    int8_t q[256];
    float d;
    int16_t s16[16]; /* sums of each 16 q */
    int16_t s32[8];  /* sums of each 32 q */
} xq256;

/* 127 / amax, or 0 for a block too small to scale (see qmatmul_ref.c). */
TLM_INLINE float inv_scale(float amax) { return amax >= 0x1p-96f ? 127.0f / amax : 0.0f; }

/* n float lanes at x: their largest magnitude. */
TLM_INLINE float amax_of(const float *x, int n)
{
    vf m = vf_zero();
    for (int j = 0; j < n; j += VL)
        m = vf_max(m, vf_abs(vf_load(x + j)));
    return vf_hmax(m);
}

/* q[0, n) = round(x * id) to nearest even, as lrintf (|q| <= 127); returns their sum. */
TLM_INLINE int32_t quantize_run(int8_t *q, const float *x, int n, vf id)
{
    vi s = vi_set1(0);
    for (int j = 0; j < n; j += VL) {
        vi v = vf_round_i32(vf_mul(vf_load(x + j), id));
        vi_store_i8(q + j, v);
        s = vi_add(s, v);
    }
    return vi_hsum(s);
}

TLM_INLINE void quantize_x32(void *xq, const float *x, int64_t n_units, int offset)
{
    xq32 *o = xq;
    for (int64_t u = 0; u < n_units; u++, x += 32) {
        float amax = amax_of(x, 32);
        o[u].corr = -offset * quantize_run(o[u].q, x, 32, vf_set1(inv_scale(amax)));
        o[u].d = amax / 127.0f;
    }
}

static void quantize_x_q8_0(void *xq, const float *x, int64_t n_units)
{
    quantize_x32(xq, x, n_units, QX_Q8_OFFSET);
}

static void quantize_x_q4_0(void *xq, const float *x, int64_t n_units)
{
    quantize_x32(xq, x, n_units, 8);
}

static void quantize_x256(void *xq, const float *x, int64_t n_units)
{
    xq256 *o = xq;
    for (int64_t u = 0; u < n_units; u++, x += 256) {
        float amax = amax_of(x, 256);
        vf id = vf_set1(inv_scale(amax));
        for (int j = 0; j < 16; j++)
            o[u].s16[j] = (int16_t)quantize_run(o[u].q + 16 * j, x + 16 * j, 16, id);
        for (int j = 0; j < 8; j++)
            o[u].s32[j] = (int16_t)(o[u].s16[2 * j] + o[u].s16[2 * j + 1]);
        o[u].d = amax / 127.0f;
    }
}

/* ---- a group of 16 weight rows ------------------------------------------------------------ */

/* The rows of a group. A full group (16 rows) is a base and a stride: row 4c + j is at
 * base + j * rb + c * r4, which the loads reach through a few registers; a partial group
 * lists its rows, the last real row standing in for missing ones (its lanes are computed
 * and never stored). */
typedef struct group {
    const char *base; /* full, or the group itself when il */
    uint64_t rb, r4;
    const char *row[TLM_QROWS]; /* partial */
    bool il;     /* the K-quants' interleaved groups (kernels.h): dword d of every row's */
    uint64_t bb; /* block at base + u * 16 * bb + 64 * d, then the odd 2 bytes (Q6_K's d) */
} group;

TLM_INLINE void group_init(group *g, bool full, const char *w, uint64_t w_row_bytes, int rows)
{
    g->il = false;
    g->bb = 0; /* read only when il */
    g->base = w;
    g->rb = w_row_bytes;
    g->r4 = 4 * w_row_bytes;
    if (!full)
        for (int r = 0; r < TLM_QROWS; r++)
            g->row[r] = w + (uint64_t)(r < rows ? r : rows - 1) * w_row_bytes;
}

TLM_INLINE void group_init_il(group *g, const char *w, uint64_t w_row_bytes, uint64_t block_bytes)
{
    g->il = true;
    g->base = w;
    g->rb = w_row_bytes; /* the group is 16 rows' bytes, as before */
    g->r4 = 4 * w_row_bytes;
    g->bb = block_bytes;
}

/* In an interleaved group: where dword off / 4 of block off / bb of every row lies. */
TLM_INLINE const char *il_at(const group *g, int64_t off)
{
    const uint64_t u = (uint64_t)off / g->bb, o = (uint64_t)off % g->bb;
    return g->base + u * TLM_QROWS * g->bb + 64 * (o / 4);
}

/* ---- the packed layout (prefill): every entry is 64 bytes, lane r of 16 = row r ----------- */

/* Q8_0 / Q4_0: levels [8][16 dwords], then the 16 scales as float. */
enum { PACK32 = 8 * 64 + 64 };

/* Q4_K / Q5_K: levels [64][16 dwords], scales [8], mins as (m_2i, m_2i+1) pairs [4], d,
 * -dmin (the scales' form is the tile's: (sc, sc) 16-bit pairs for AVX2, int32 for VNNI). */
enum {
    KA_SC = 4096,
    KA_M = KA_SC + 8 * 64,
    KA_D = KA_M + 4 * 64,
    KA_NDMIN = KA_D + 64,
    PACK_KA = KA_NDMIN + 64
};

/* Q6_K: levels [64][16 dwords], scales [16], as (sc_2i, sc_2i+1) pairs [8], d. */
enum { K6_SC = 4096, K6_SCP = K6_SC + 16 * 64, K6_D = K6_SCP + 8 * 64, PACK_K6 = K6_D + 64 };

/* ---- small batches (the gemm of qmatmul_blocked.h) on interleaved groups ------------------ */

/* Defines `name`, a gemm on whole groups of `type`, as the file's body
 *   shape(type, nt, y, ldy, rows, accumulate, w, w_row_bytes, u0, n_units, xq, xs, next)
 * for nt = 1 .. nb (nb <= 8: tokens per pass), one instance per count, so that a constant
 * nt keeps each token's sums in registers. Counts past nb do not occur (ops nb). */
#define GEMM_SMALL_CASE(shape, type, nb, n)                                                        \
    case n:                                                                                        \
        if ((n) < (nb)) {                                                                          \
            shape(type, (n) < (nb) ? (n) : (nb), y, ldy, rows, accumulate, w, w_row_bytes, u0,     \
                  n_units, xq, xs, next);                                                          \
            break;                                                                                 \
        }                                                                                          \
        __attribute__((fallthrough));
#define GEMM_SMALL_FN(name, shape, type, nb)                                                       \
    static void name(float *y, int64_t ldy, int rows, bool accumulate, int nt, const char *w,      \
                     uint64_t w_row_bytes, int64_t u0, int64_t n_units, const char *xq,            \
                     int64_t xs, const char *next)                                                 \
    {                                                                                              \
        _Static_assert((nb) >= 1 && (nb) <= 8, "tokens per small-batch pass");                     \
        switch (nt) {                                                                              \
            GEMM_SMALL_CASE(shape, type, nb, 1)                                                    \
            GEMM_SMALL_CASE(shape, type, nb, 2)                                                    \
            GEMM_SMALL_CASE(shape, type, nb, 3)                                                    \
            GEMM_SMALL_CASE(shape, type, nb, 4)                                                    \
            GEMM_SMALL_CASE(shape, type, nb, 5)                                                    \
            GEMM_SMALL_CASE(shape, type, nb, 6)                                                    \
            GEMM_SMALL_CASE(shape, type, nb, 7)                                                    \
        default: /* nt == nb */                                                                    \
            shape(type, nb, y, ldy, rows, accumulate, w, w_row_bytes, u0, n_units, xq, xs, next);  \
            break;                                                                                 \
        }                                                                                          \
    }

#endif
