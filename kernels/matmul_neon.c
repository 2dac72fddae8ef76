/* matmul_neon.c - NEON register tiles for matmul with F32, F16 and BF16 weights; the loops
 * around them are tlm_matmul_blocked (matmul_blocked.c).
 *
 * AArch64 has 32 vector registers: prefill tiles are 8 weight rows x 3 tokens, 24
 * accumulators plus the 3 activation vectors and one streaming weight vector (28). Decode
 * tiles are 8 rows x 1 token: FMLA's latency of 4 on two pipes (Cortex-A76, Neoverse N1) needs
 * 8 independent chains. F16 widens with FCVTL, BF16 with a 16-bit shift. F16 and BF16 matrices
 * interleaved by groups of 4 rows (kernels.h, il) go through the same tiles, rows placed by
 * tlm_tile_row. Every shape sums in the order matmul_blocked.h describes, with 4 lanes. */
#include "kernels_impl.h"
#include "matmul_blocked.h"
#include "simd_neon.h"

enum { MR = 8, NR = 3, DECODE_MR = 8, ROWS_MAX = 8 };

/* One k step of a tile: acc[r][t] += W[r][k, k + 4) * x[t][k, k + 4) for r < mr, t < nr,
 * loading only the first n lanes (zeros above, which change no sum) when n < 4. The
 * activations stay in registers while the weights stream past them. */
TLM_INLINE void fma_step(vf acc[][NR], int type, bool il, int mr, int nr, const char *const *row,
                         const float *x, int64_t ldx, int64_t k, int64_t n)
{
    const bool full = n >= VL;
    const int64_t kk = tlm_tile_k(k, il);
    vf b[NR];
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        b[t] = full ? vf_load(x + t * ldx + k) : load_tail(x + t * ldx + k, n);
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        vf a = full ? load_row(type, row[r], kk) : load_row_tail(type, row[r], kk, n);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            acc[r][t] = vf_fma(a, b[t], acc[r][t]);
    }
}

/* The tile of matmul_blocked.h for one shape (constant type, mr, nr). */
TLM_INLINE void tile_shape(int type, bool il, int mr, int nr, int rows, float *y, int64_t ldy,
                           const void *w, uint64_t w_row_bytes, int64_t r0, const float *x,
                           int64_t ldx, int64_t n_in)
{
    const int esize = type == TLM_DT_F32 ? 4 : 2;
    const char *row[ROWS_MAX];
    vf acc[ROWS_MAX][NR];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        row[r] = tlm_tile_row(w, w_row_bytes, r0 + (r < rows ? r : rows - 1), il, esize);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            acc[r][t] = vf_zero();
    }
    int64_t k = 0;
    for (; k + VL <= n_in; k += VL)
        fma_step(acc, type, il, mr, nr, row, x, ldx, k, VL);
    if (k < n_in) fma_step(acc, type, il, mr, nr, row, x, ldx, k, n_in - k);
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
            if (r < rows) y[t * ldy + r] = hsum(acc[r][t]);
}

/* The shapes tlm_matmul_blocked asks for: (MR, 1..NR) and (DECODE_MR, 1); on groups of 4,
 * a decode tile takes two whole groups. */
TLM_INLINE void tile_any(int type, bool il, int mr, int nr, int rows, float *y, int64_t ldy,
                         const void *w, uint64_t rb, int64_t r, const float *x, int64_t ldx,
                         int64_t n_in)
{
#define SHAPE(m, n) tile_shape(type, il, m, n, rows, y, ldy, w, rb, r, x, ldx, n_in)
    if (nr == 1) SHAPE(MR, 1); /* MR == DECODE_MR */
    else if (nr == 2) SHAPE(MR, 2);
    else SHAPE(MR, NR);
#undef SHAPE
}

#define TILE_FN(name, type, il)                                                                    \
    static void name(int mr, int nr, int rows, float *y, int64_t ldy, const void *w, uint64_t rb,  \
                     int64_t r, const float *x, int64_t ldx, int64_t n_in)                         \
    {                                                                                              \
        tile_any(type, il, mr, nr, rows, y, ldy, w, rb, r, x, ldx, n_in);                          \
    }                                                                                              \
    static const tlm_matmul_tiles tiles_##name = {name, MR, NR, DECODE_MR};

TILE_FN(f32, TLM_DT_F32, false)
TILE_FN(f16, TLM_DT_F16, false)
TILE_FN(bf16, TLM_DT_BF16, false)
TILE_FN(il_f16, TLM_DT_F16, true)
TILE_FN(il_bf16, TLM_DT_BF16, true)

TLM_MATMUL_SLOT(tlm_matmul_f32_neon, tiles_f32)
TLM_MATMUL_SLOT(tlm_matmul_f16_neon, tiles_f16)
TLM_MATMUL_SLOT(tlm_matmul_bf16_neon, tiles_bf16)
TLM_MATMUL_SLOT(tlm_matmul_il_f16_neon, tiles_il_f16)
TLM_MATMUL_SLOT(tlm_matmul_il_bf16_neon, tiles_il_bf16)
