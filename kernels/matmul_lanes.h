/* matmul_lanes.h - what the kernels on the rows-in-lanes layout share (kernels.h,
 * TLM_IL_LANES; matmul_lanes_avx512.c and matmul_lanes_avx2.c widen and multiply by FMA,
 * matmul_lanes_avx512bf16.c multiplies bf16 pairs by vdpbf16ps): the group and tile sizes,
 * which lanes of a group a row range covers, where a group pair starts, the token panel, and
 * (AVX-512) how a tile's sums reach y. */
#ifndef TLM_MATMUL_LANES_H
#define TLM_MATMUL_LANES_H

#include <stdint.h>

enum {
    LANES_G = 16,  /* rows per group, one per lane */
    LANES_NT = 14, /* tokens per AVX-512 prefill tile (AVX2 takes 6) */
};

static inline int64_t lanes_min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Lanes of the group starting at row g0 that fall in [r0, r1). */
static inline uint16_t lanes_in(int64_t g0, int64_t r0, int64_t r1)
{
    const int64_t lo = r0 > g0 ? r0 - g0 : 0, hi = r1 - g0 < LANES_G ? r1 - g0 : LANES_G;
    return hi <= lo ? 0 : (uint16_t)(((1u << hi) - 1) & ~((1u << lo) - 1));
}

/* The group whose first row is g0 (a multiple of 16): its element 0. */
static inline const uint16_t *lanes_group(const void *w, uint64_t w_row_bytes, int64_t g0)
{
    return (const uint16_t *)((const char *)w + (uint64_t)g0 * w_row_bytes);
}

/* The group pair at row g0 (g0 + 16 past r1: one group, the second pointer the first, unread),
 * from element k0 on, with the lanes of each that fall in [r0, r1). Returns the groups, 1 or 2. */
static inline int lanes_pair(const uint16_t *g[2], uint16_t m[2], const void *w,
                             uint64_t w_row_bytes, int64_t g0, int64_t r0, int64_t r1, int64_t k0)
{
    const int nv = g0 + LANES_G < r1 ? 2 : 1;
    for (int v = 0; v < 2; v++) {
        m[v] = lanes_in(g0 + v * LANES_G, r0, r1);
        g[v] = lanes_group(w, w_row_bytes, g0 + (v < nv ? v : 0) * LANES_G) + k0 * LANES_G;
    }
    return nv;
}

/* One token on the group at g (rows under mask m): an ISA's decode of a group. */
typedef void lanes_group_fn(int type, float *y, uint16_t m, const uint16_t *g, const float *x,
                            int64_t n_in);

/* Every token alone on the groups of rows [r0, r1), through `group` (a constant after
 * inlining): what the kernels do for n_tok 1, or n_in too large for their panel. */
static inline __attribute__((always_inline)) void lanes_decode(lanes_group_fn *group, int type,
                                                               float *y, int64_t ldy, const void *w,
                                                               uint64_t w_row_bytes, const float *x,
                                                               int64_t ldx, int64_t n_tok,
                                                               int64_t n_in, int64_t r0, int64_t r1)
{
    for (int64_t t = 0; t < n_tok; t++)
        for (int64_t g0 = r0 - r0 % LANES_G; g0 < r1; g0 += LANES_G)
            group(type, y + t * ldy + g0, lanes_in(g0, r0, r1), lanes_group(w, w_row_bytes, g0),
                  x + t * ldx, n_in);
}

/* The panel of nb tokens from t0, elements [k0, k0 + len), for tiles of nt tokens: tile i's
 * tokens packed by k at panel + i * nt * len (panel[k * n + u] is its token u's element
 * k0 + k, n its tokens: one sequential stream for the tile's broadcasts). */
static inline void lanes_pack(float *panel, const float *x, int64_t ldx, int64_t t0, int64_t nb,
                              int64_t nt, int64_t k0, int64_t len)
{
    for (int64_t t = 0; t < nb; t += nt) {
        const int64_t n = lanes_min64(nt, nb - t);
        float *p = panel + t * len;
        for (int64_t k = 0; k < len; k++)
            for (int64_t u = 0; u < n; u++)
                p[k * n + u] = x[(t0 + t + u) * ldx + k0 + k];
    }
}

#if defined(__AVX512F__)
#include "simd_avx512.h"

/* A tile's sums (nv groups x nt tokens) into y: stored by chain 0, added to y's value by the
 * chains after it (j > 0), so y ends as ((c0 + c1) + c2) + c3. */
TLM_INLINE void lanes_tile_store(int nv, int nt, int j, float *y, int64_t ldy, const __mmask16 *m,
                                 __m512 acc[2][LANES_NT])
{
#pragma GCC unroll 16
    for (int t = 0; t < nt; t++)
#pragma GCC unroll 16
        for (int v = 0; v < nv; v++) {
            float *at = y + t * ldy + v * LANES_G;
            __m512 s = acc[v][t];
            if (j > 0) s = _mm512_add_ps(_mm512_maskz_loadu_ps(m[v], at), s);
            _mm512_mask_storeu_ps(at, m[v], s);
        }
}
#endif

#endif
