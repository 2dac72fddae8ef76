/* matmul_body.h - the register tiles of the float matmuls (F32, F16, BF16 weights, in rows or
 * in groups of 4 rows, kernels.h "il"), written once in the vector API of simd_<isa>.h and
 * compiled per ISA by matmul_<isa>.c; the loops around the tiles are tlm_matmul_blocked
 * (matmul_blocked.c). Every shape sums in the order matmul_blocked.h describes, with VL lanes.
 *
 * The including file chooses its shapes (what fits its registers, measured there):
 *   MR x NR                   prefill tile on rows,    DECODE_MR x 1 decode tile on rows;
 *   IL_MR x IL_NR             prefill tile on groups,  IL_DECODE_MR x 1 decode tile on groups;
 * rows at most 8, tokens at most 4; and it names the slots with TLM_ISA_FN. */
#include "kernels_impl.h"
#include "matmul_blocked.h"

#define TILE_ROWS_MAX 8
#define TILE_TOKENS_MAX 4
_Static_assert(MR <= TILE_ROWS_MAX && DECODE_MR <= TILE_ROWS_MAX && IL_MR <= TILE_ROWS_MAX &&
                   IL_DECODE_MR <= TILE_ROWS_MAX && NR <= TILE_TOKENS_MAX &&
                   IL_NR <= TILE_TOKENS_MAX,
               "tile shapes beyond the body's arrays");

/* One k step of a tile: acc[r][t] += W[r][k, k + VL) * x[t][k, k + VL) for r < mr, t < nr,
 * loading only the first n lanes (zeros above, which change no sum) when n < VL. The tokens'
 * vectors stay in registers while the weight rows stream past them. */
TLM_INLINE void fma_step(vf acc[][TILE_TOKENS_MAX], int type, bool il, int mr, int nr,
                         const char *const *row, const float *x, int64_t ldx, int64_t k, int64_t n)
{
    const bool full = n >= VL;
    const int64_t kk = tlm_tile_k(k, il);
    vf b[TILE_TOKENS_MAX];
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
        b[t] = full ? vf_load(x + t * ldx + k) : vf_load_m(x + t * ldx + k, vmask_n(n));
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        vf a = full ? load_row(type, row[r], kk) : load_row_tail(type, row[r], kk, n);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            acc[r][t] = vf_fma(a, b[t], acc[r][t]);
    }
}

/* The tile of matmul_blocked.h for one shape (constant type, il, mr, nr). */
TLM_INLINE void tile_shape(int type, bool il, int mr, int nr, int rows, float *y, int64_t ldy,
                           const void *w, uint64_t w_row_bytes, int64_t r0, const float *x,
                           int64_t ldx, int64_t n_in)
{
    const int esize = type == TLM_DT_F32 ? 4 : 2;
    const char *row[TILE_ROWS_MAX];
    vf acc[TILE_ROWS_MAX][TILE_TOKENS_MAX];
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
            if (r < rows) y[t * ldy + r] = vf_hsum(acc[r][t]);
}

/* The shapes tlm_matmul_blocked asks for: (decode rows, 1) and (prefill rows, 1..tokens),
 * each a constant shape once `il` is (every branch on them folds away). */
TLM_INLINE void tile_any(int type, bool il, int mr, int nr, int rows, float *y, int64_t ldy,
                         const void *w, uint64_t rb, int64_t r, const float *x, int64_t ldx,
                         int64_t n_in)
{
    const int decode_mr = il ? IL_DECODE_MR : DECODE_MR, pmr = il ? IL_MR : MR;
    const int pnr = il ? IL_NR : NR;
#define SHAPE(m, n) tile_shape(type, il, m, n, rows, y, ldy, w, rb, r, x, ldx, n_in)
    if (nr == 1 && mr == decode_mr)
        SHAPE(decode_mr, 1);
    else if (nr == 1)
        SHAPE(pmr, 1);
    else if (nr == 2 || pnr == 2)
        SHAPE(pmr, 2);
    else if (nr == 3 || pnr == 3)
        SHAPE(pmr, 3);
    else
        SHAPE(pmr, 4);
#undef SHAPE
}

#define TILE_FN(name, type, il)                                                                    \
    static void name(int mr, int nr, int rows, float *y, int64_t ldy, const void *w, uint64_t rb,  \
                     int64_t r, const float *x, int64_t ldx, int64_t n_in)                         \
    {                                                                                              \
        tile_any(type, il, mr, nr, rows, y, ldy, w, rb, r, x, ldx, n_in);                          \
    }                                                                                              \
    static const tlm_matmul_tiles tiles_##name = {name, il ? IL_MR : MR, il ? IL_NR : NR,          \
                                                  il ? IL_DECODE_MR : DECODE_MR};

TILE_FN(f32, TLM_DT_F32, false)
TILE_FN(f16, TLM_DT_F16, false)
TILE_FN(bf16, TLM_DT_BF16, false)
TILE_FN(il_f16, TLM_DT_F16, true)
TILE_FN(il_bf16, TLM_DT_BF16, true)
#undef TILE_FN

TLM_MATMUL_SLOT(TLM_ISA_FN(tlm_matmul_f32), tiles_f32)
TLM_MATMUL_SLOT(TLM_ISA_FN(tlm_matmul_f16), tiles_f16)
TLM_MATMUL_SLOT(TLM_ISA_FN(tlm_matmul_bf16), tiles_bf16)
TLM_MATMUL_SLOT(TLM_ISA_FN(tlm_matmul_il_f16), tiles_il_f16)
TLM_MATMUL_SLOT(TLM_ISA_FN(tlm_matmul_il_bf16), tiles_il_bf16)
