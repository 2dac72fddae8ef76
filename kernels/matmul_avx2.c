/* matmul_avx2.c - AVX2 register tiles for matmul with F32, F16 and BF16 weights; the loops
 * around them are tlm_matmul_blocked (matmul_blocked.c).
 *
 * Prefill tiles are 4 weight rows x 3 tokens: 12 accumulators and the 3 activation vectors
 * fill 15 of the 16 registers (of the shapes that fit, it measured fastest). Decode tiles
 * are 8 rows x 1 token: two FMA pipes of latency 4 need 8 independent chains. F16 widens
 * with vcvtph2ps, BF16 with a 16-bit shift. F16 and BF16 matrices interleaved by groups of 4
 * rows (kernels.h, il) go through the same tiles, rows placed by tlm_tile_row (a decode tile
 * is then two groups: 2 streams instead of 8). Every shape sums in the order
 * matmul_blocked.h describes, with 8 lanes. */
#include "kernels_impl.h"
#include "matmul_blocked.h"
#include "simd_avx2.h"

enum { MR = 4, NR = 3, DECODE_MR = 8, ROWS_MAX = 8 };

/* One k step of a tile: acc[r][t] += W[r][k, k + 8) * x[t][k, k + 8) for r < mr, t < nr,
 * loading only the first n lanes (zeros above, which change no sum) when n < 8. The
 * smaller of the two operand sets stays in registers while the other streams past it. */
TLM_INLINE void fma_step(__m256 acc[][NR], int type, bool il, int mr, int nr,
                         const char *const *row,
                         const float *x, int64_t ldx, int64_t k, int64_t n)
{
    const bool full = n >= VL;
    const int64_t kk = tlm_tile_k(k, il);
    if (nr < mr) {
        __m256 b[NR];
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            b[t] = full ? _mm256_loadu_ps(x + t * ldx + k) : load_tail(x + t * ldx + k, n);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            __m256 a = full ? load_row(type, row[r], kk) : load_row_tail(type, row[r], kk, n);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                acc[r][t] = _mm256_fmadd_ps(a, b[t], acc[r][t]);
        }
    } else {
        __m256 a[ROWS_MAX];
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
            a[r] = full ? load_row(type, row[r], kk) : load_row_tail(type, row[r], kk, n);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++) {
            __m256 b = full ? _mm256_loadu_ps(x + t * ldx + k) : load_tail(x + t * ldx + k, n);
#pragma GCC unroll 16
            for (int r = 0; r < mr; r++)
                acc[r][t] = _mm256_fmadd_ps(a[r], b, acc[r][t]);
        }
    }
}

/* The tile of matmul_blocked.h for one shape (constant type, mr, nr). */
TLM_INLINE void tile_shape(int type, bool il, int mr, int nr, int rows, float *y, int64_t ldy,
                           const void *w, uint64_t w_row_bytes, int64_t r0, const float *x,
                           int64_t ldx, int64_t n_in)
{
    const int esize = type == TLM_DT_F32 ? 4 : 2;
    const char *row[ROWS_MAX];
    __m256 acc[ROWS_MAX][NR];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        row[r] = tlm_tile_row(w, w_row_bytes, r0 + (r < rows ? r : rows - 1), il, esize);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            acc[r][t] = _mm256_setzero_ps();
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
    if (mr == DECODE_MR) SHAPE(DECODE_MR, 1);
    else if (nr == 1) SHAPE(MR, 1);
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

TLM_MATMUL_SLOT(tlm_matmul_f32_avx2, tiles_f32)
TLM_MATMUL_SLOT(tlm_matmul_f16_avx2, tiles_f16)
TLM_MATMUL_SLOT(tlm_matmul_bf16_avx2, tiles_bf16)
TLM_MATMUL_SLOT(tlm_matmul_il_f16_avx2, tiles_il_f16)
TLM_MATMUL_SLOT(tlm_matmul_il_bf16_avx2, tiles_il_bf16)
