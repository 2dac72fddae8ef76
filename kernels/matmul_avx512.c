/* matmul_avx512.c - AVX-512 register tiles for matmul with F32, F16 and BF16 weights; the
 * loops around them are tlm_matmul_blocked (matmul_blocked.c).
 *
 * Prefill tiles are 6 weight rows x 4 tokens: 24 accumulators, the 4 activation vectors in
 * registers, each converted weight vector used for 4 tokens (of the shapes that fit 32
 * registers it measured fastest). Decode tiles are 1 row x 1 token: each thread reads its
 * rows as one sequential stream, which the hardware prefetchers follow best (F16 mat-vec on
 * Zen 4: 25 GB/s from one core against 16 GB/s for 8 rows at once, 34 against 28 GB/s on two
 * cores); one 16-lane FMA chain covers 32-64 bytes per FMA latency, which caps a core near
 * 25 GB/s of F16. F16 and BF16 matrices interleaved by groups of 4 rows (kernels.h, il) lift
 * that cap: a decode tile takes a group's 4 rows from one stream with 4 chains (45 against 25
 * GB/s per core from cache), and prefill tiles take 8 rows x 3 tokens (two whole groups; 6 x 4
 * measured 8% slower on them). F16 widens with vcvtph2ps, BF16 with a 16-bit shift. Every
 * shape sums in the order matmul_blocked.h describes. */
#include "kernels_impl.h"
#include "matmul_blocked.h"
#include "simd_avx512.h"

enum { MR = 6, NR = 4, DECODE_MR = 1, ROWS_MAX = 8, NR_MAX = 4 };
enum { IL_MR = 8, IL_NR = 3, IL_DECODE_MR = 4 }; /* tiles on groups of 4 rows */

/* One k step of a tile: acc[r][t] += W[r][k, k + 16) * x[t][k, k + 16) for r < mr, t < nr,
 * loading only the first n lanes (zeros above, which change no sum) when n < 16. The
 * smaller of the two operand sets stays in registers while the other streams past it. */
TLM_INLINE void fma_step(__m512 acc[][NR_MAX], int type, bool il, int mr, int nr,
                         const char *const *row,
                         const float *x, int64_t ldx, int64_t k, int64_t n)
{
    const bool full = n >= VL;
    const int64_t kk = tlm_tile_k(k, il);
    const __mmask16 m = mask16(full ? VL : n);
    if (nr < mr) {
        __m512 b[NR_MAX];
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            b[t] =
                full ? _mm512_loadu_ps(x + t * ldx + k) : _mm512_maskz_loadu_ps(m, x + t * ldx + k);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            __m512 a = full ? load_row(type, row[r], kk) : load_row_tail(type, row[r], kk, n);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                acc[r][t] = _mm512_fmadd_ps(a, b[t], acc[r][t]);
        }
    } else {
        __m512 a[ROWS_MAX];
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
            a[r] = full ? load_row(type, row[r], kk) : load_row_tail(type, row[r], kk, n);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++) {
            __m512 b =
                full ? _mm512_loadu_ps(x + t * ldx + k) : _mm512_maskz_loadu_ps(m, x + t * ldx + k);
#pragma GCC unroll 16
            for (int r = 0; r < mr; r++)
                acc[r][t] = _mm512_fmadd_ps(a[r], b, acc[r][t]);
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
    __m512 acc[ROWS_MAX][NR_MAX];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        row[r] = tlm_tile_row(w, w_row_bytes, r0 + (r < rows ? r : rows - 1), il, esize);
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            acc[r][t] = _mm512_setzero_ps();
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

/* The shapes tlm_matmul_blocked asks for: (MR, 1..NR), and (DECODE_MR, 1) on rows or
 * (IL_DECODE_MR, 1) on groups of 4 (a group's 4 sums go at once from one stream). */
TLM_INLINE void tile_any(int type, bool il, int mr, int nr, int rows, float *y, int64_t ldy,
                         const void *w, uint64_t rb, int64_t r, const float *x, int64_t ldx,
                         int64_t n_in)
{
#define SHAPE(m, n) tile_shape(type, il, m, n, rows, y, ldy, w, rb, r, x, ldx, n_in)
    if (mr == DECODE_MR && nr == 1) SHAPE(DECODE_MR, 1);
    else if (mr == IL_DECODE_MR && nr == 1) SHAPE(IL_DECODE_MR, 1);
    else if (il && nr == 1) SHAPE(IL_MR, 1);
    else if (il && nr == 2) SHAPE(IL_MR, 2);
    else if (il) SHAPE(IL_MR, IL_NR);
    else if (nr == 1) SHAPE(MR, 1);
    else if (nr == 2) SHAPE(MR, 2);
    else if (nr == 3) SHAPE(MR, 3);
    else SHAPE(MR, NR);
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

TLM_MATMUL_SLOT(tlm_matmul_f32_avx512, tiles_f32)
TLM_MATMUL_SLOT(tlm_matmul_f16_avx512, tiles_f16)
TLM_MATMUL_SLOT(tlm_matmul_bf16_avx512, tiles_bf16)
TLM_MATMUL_SLOT(tlm_matmul_il_f16_avx512, tiles_il_f16)
TLM_MATMUL_SLOT(tlm_matmul_il_bf16_avx512, tiles_il_bf16)
