/* matmul_blocked.h - the loop nest of the SIMD matmuls, shared by every instruction set.
 * As in BLIS, only the register tile is per instruction set; the loops that decide what
 * stays in cache are written once (kernels/matmul_blocked.c).
 *
 * Summation order of every output, the same for every tile shape: lane l of a vl-float
 * accumulator adds the products of k = l, l + vl, l + 2 vl, ... in increasing k (one FMA
 * each; zeros past n_in), then the lanes are added in a fixed tree. It depends on n_in
 * alone, not on n_tok, r0 or r1: decode, prefill and any split of the rows between threads
 * give the same bits. */
#ifndef TLM_MATMUL_BLOCKED_H
#define TLM_MATMUL_BLOCKED_H

#include <stdbool.h>
#include <stdint.h>

/* One register tile of mr weight rows by nr tokens: y[t * ldy + i] = W[r + i] . x[t] over all
 * n_in elements, for the matrix at w (plain rows w_row_bytes apart, or interleaved in groups
 * of 4 when the tiles say il; tlm_tile_row), token t at x + t * ldx. Only rows i < rows
 * (<= mr) exist: the tile reads the last of them in place of the others and stores nothing
 * for them. */
typedef void (*tlm_matmul_tile_fn)(int mr, int nr, int rows, float *y, int64_t ldy, const void *w,
                                   uint64_t w_row_bytes, int64_t r, const float *x, int64_t ldx,
                                   int64_t n_in);

typedef struct tlm_matmul_tiles {
    tlm_matmul_tile_fn tile; /* takes (mr, 1..nr) and (decode_mr, 1) */
    int mr, nr;              /* the prefill tile */
    int decode_mr;           /* rows of the tile when n_tok == 1 */
} tlm_matmul_tiles;

/* Row r's first element in a matrix of rows (il false) or of groups of 4 rows interleaved by
 * steps of 16 elements (kernels.h), esize bytes per element. */
static inline const char *tlm_tile_row(const void *w, uint64_t w_row_bytes, int64_t r, bool il,
                                       int esize)
{
    if (!il) return (const char *)w + (uint64_t)r * w_row_bytes;
    return (const char *)w + (uint64_t)(r - r % 4) * w_row_bytes +
           (uint64_t)(r % 4) * 16 * (uint64_t)esize;
}

/* Where element k of a row lies from its first, in elements (k and the loads that start at
 * it never cross a step of 16 when il). */
static inline int64_t tlm_tile_k(int64_t k, bool il) { return il ? k / 16 * 64 + k % 16 : k; }

/* Defines the matmul slot `name` (kernels.h) on the tiles `tiles`. */
#define TLM_MATMUL_SLOT(name, tiles)                                                               \
    void name(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,          \
              int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)                    \
    {                                                                                              \
        tlm_matmul_blocked(&tiles, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);           \
    }

/* The matmul contract of kernels.h, on the tiles of `tiles`. */
void tlm_matmul_blocked(const tlm_matmul_tiles *tiles, float *y, int64_t ldy, const void *w,
                        uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok,
                        int64_t n_in, int64_t r0, int64_t r1);

#endif
