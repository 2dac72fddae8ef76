/* qmatmul_blocked.h - the loop nest of the SIMD quantized matmuls, shared by every instruction
 * set; only the packing of weights, the quantizing of activations and the register tile are
 * per instruction set (kernels/qmatmul_avx2.c, kernels/qmatmul_avx512vnni.c).
 *
 * Layout: the tile computes 16 weight rows at once, one row per 32-bit lane, so the weights
 * are first packed: for a group of 16 rows and a range of "units" (one GGUF block of 32
 * elements for Q8_0 / Q4_0, one super-block of 256 for the K-quants), each run of 4
 * consecutive elements of every row becomes one dword of a 64-byte vector whose lane r is
 * row r, with levels widened to unsigned bytes and the scales unpacked per lane. A token's 4
 * activation bytes are then broadcast to every lane and one multiply-add of unsigned by
 * signed bytes (vpdpbusd, or vpmaddubsw + vpmaddwd) advances 16 rows at once.
 *
 * Summation order of every output: the per-unit integer sums are exact, and the float
 * accumulator of an output takes the units in order of k, one after another, with the same
 * operations in every path: lane r of a vector holds row r whatever the other lanes hold.
 * It depends on n_in alone, not on r0, r1, n_tok or the tile shape, so decode, prefill and
 * any split of the rows between threads give the same bits. */
#ifndef TLM_QMATMUL_BLOCKED_H
#define TLM_QMATMUL_BLOCKED_H

#include <stdbool.h>
#include <stdint.h>

enum { TLM_QROWS = 16 }; /* rows per packed group: one per 32-bit lane of 512 bits */

typedef struct tlm_qmatmul_ops {
    int unit;       /* weight elements per unit: 32 or 256 */
    int unit_bytes; /* bytes of one unit of a weight row (one GGUF block) */
    int pack_bytes; /* bytes of one packed unit of TLM_QROWS rows */
    int x_bytes;    /* bytes of one unit of one token's quantized activations */
    int nr;         /* tokens per tile, at most */

    /* One token: the n_units * unit floats at x quantized into xq (n_units * x_bytes). */
    void (*quantize_x)(void *xq, const float *x, int64_t n_units);

    /* Units [u0, u0 + n_units) of the rows at w (row r at w + r * w_row_bytes, r < rows,
     * rows <= TLM_QROWS; the last row stands in for missing ones) into dst
     * (n_units * pack_bytes, 64-byte aligned). */
    void (*pack)(void *dst, const char *w, uint64_t w_row_bytes, int rows, int64_t u0,
                 int64_t n_units);

    /* y[t * ldy + r] = (accumulate ? y[t * ldy + r] : 0) + row r of the packed units . token
     * t, for r < rows and t < nr (<= ops nr): n_units packed units against the quantized
     * activations of token t at xq + t * x_stride (the same units). Touches no other y. */
    void (*tile)(float *y, int64_t ldy, int rows, bool accumulate, int nr, const void *packed,
                 int64_t n_units, const char *xq, int64_t x_stride);

    /* One token (decode), straight from the weights: y[r] = (accumulate ? y[r] : 0) + row r
     * . x over units [u0, u0 + n_units) of the rows at w (as pack), against their quantized
     * activations at xq, for r < rows. The same sums in the same order as pack + tile.
     * next: the following group's rows, to prefetch (NULL: none). NULL gemv: decode packs. */
    void (*gemv)(float *y, int rows, bool accumulate, const char *w, uint64_t w_row_bytes,
                 int64_t u0, int64_t n_units, const char *xq, const char *next);

    /* A small batch (2 .. TLM_QSMALL tokens), straight from the weights: as gemv for tokens
     * t < nt (nt <= nb), token t's activations at xq + t * x_stride and its outputs at
     * y + t * ldy. Each weight vector is loaded once per call and used by all nt tokens, so
     * the group streams once per pass of nb tokens. The same sums in the same order as
     * pack + tile. next: the following group, whose units [u0, u0 + n_units) it prefetches
     * (NULL: none). NULL gemm: small batches pack. */
    void (*gemm)(float *y, int64_t ldy, int rows, bool accumulate, int nt, const char *w,
                 uint64_t w_row_bytes, int64_t u0, int64_t n_units, const char *xq,
                 int64_t x_stride, const char *next);
    int nb; /* tokens per gemm call, at most */
} tlm_qmatmul_ops;

/* The next group's prefetch (gemv's and gemm's `next`): a cursor over [next, next + bytes)
 * whose every step prefetches (to L2) the following `step` bytes, so that a kernel spreads the
 * group's lines evenly over its own work, a line or two a step where a unit is large (a
 * burst of more lines than the core can have in flight loses some: the K-quant gemvs on
 * Zen 3 streamed 1.2-1.4x faster once spread). Always inlined: GCC counts a prefetch as no
 * side effect, takes a function of prefetches alone for const and deletes its calls. */
typedef struct tlm_qprefetch {
    const char *p;
    int64_t left, step; /* bytes; left 0 when there is no next group */
} tlm_qprefetch;

static inline __attribute__((always_inline)) tlm_qprefetch
tlm_qprefetch_init(const char *next, int64_t bytes, int64_t steps)
{
    const int64_t lines = next ? (bytes + 63) / 64 : 0, n = steps > 0 ? steps : 1;
    return (tlm_qprefetch){next, 64 * lines, 64 * ((lines + n - 1) / n)};
}

static inline __attribute__((always_inline)) void tlm_qprefetch_step(tlm_qprefetch *pf)
{
    if (pf->left <= 0) return;
    const int64_t n = pf->left < pf->step ? pf->left : pf->step;
    for (int64_t i = 0; i < n; i += 64)
        __builtin_prefetch(pf->p + i, 0, 2);
    pf->p += n;
    pf->left -= n;
}

/* Token counts up to this take gemm where ops have one: past it, packing once per group pays
 * for itself over enough tiles. */
enum { TLM_QSMALL = 16 };

/* Defines the matmul slot `name` (kernels.h) as the loop nest `nest` (tlm_qmatmul_blocked,
 * or tlm_qmatmul_il on interleaved groups) on `ops`. */
#define TLM_QMATMUL_SLOT(name, nest, ops)                                                          \
    void name(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,          \
              int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)                    \
    {                                                                                              \
        nest(&ops, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);                           \
    }

/* The matmul contract of kernels.h on the kernels of `ops`. Needs about 256 KB of stack. */
void tlm_qmatmul_blocked(const tlm_qmatmul_ops *ops, float *y, int64_t ldy, const void *w,
                         uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok,
                         int64_t n_in, int64_t r0, int64_t r1);

/* The same on a row-interleaved matrix (kernels.h, il), with ops whose pack and gemv read
 * groups: ranges may start inside a group. */
void tlm_qmatmul_il(const tlm_qmatmul_ops *ops, float *y, int64_t ldy, const void *w,
                    uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                    int64_t r0, int64_t r1);

#endif
