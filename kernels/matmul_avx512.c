/* matmul_avx512.c - AVX-512 register tiles for matmul with F32, F16 and BF16 weights; the
 * loops around them are tlm_matmul_blocked (matmul_blocked.c).
 *
 * Prefill tiles are 6 weight rows x 4 tokens: 24 accumulators, the 4 activation vectors in
 * registers, each converted weight vector used for 4 tokens (of the shapes that fit 32
 * registers it measured fastest). Decode tiles are 1 row x 1 token: each thread reads its
 * rows as one sequential stream, which the hardware prefetchers follow best (F16 mat-vec on
 * Zen 4: 25 GB/s from one core against 16 GB/s for 8 rows at once, 34 against 28 GB/s on two
 * cores); one 16-lane FMA chain still covers 32-64 bytes per FMA latency. F16 widens with
 * vcvtph2ps, BF16 with a 16-bit shift. Every shape sums in the order matmul_blocked.h
 * describes. */
#include "kernels_impl.h"
#include "matmul_blocked.h"
#include "simd_avx512.h"

enum { VL = 16, MR = 6, NR = 4, DECODE_MR = 1, ROWS_MAX = 6 };

/* One k step of a tile: acc[r][t] += W[r][k, k + 16) * x[t][k, k + 16) for r < mr, t < nr,
 * loading only the first n lanes (zeros above, which change no sum) when n < 16. The
 * smaller of the two operand sets stays in registers while the other streams past it. */
TLM_INLINE void fma_step(__m512 acc[][NR], int type, int mr, int nr, const char *const *row,
                         const float *x, int64_t ldx, int64_t k, int64_t n)
{
    const bool full = n >= VL;
    const __mmask16 m = mask16(full ? VL : n);
    if (nr < mr) {
        __m512 b[NR];
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            b[t] =
                full ? _mm512_loadu_ps(x + t * ldx + k) : _mm512_maskz_loadu_ps(m, x + t * ldx + k);
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            __m512 a = full ? load_row(type, row[r], k) : load_row_tail(type, row[r], k, n);
#pragma GCC unroll 16
            for (int t = 0; t < nr; t++)
                acc[r][t] = _mm512_fmadd_ps(a, b[t], acc[r][t]);
        }
    } else {
        __m512 a[ROWS_MAX];
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
            a[r] = full ? load_row(type, row[r], k) : load_row_tail(type, row[r], k, n);
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
TLM_INLINE void tile_shape(int type, int mr, int nr, int rows, float *y, int64_t ldy, const void *w,
                           uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_in)
{
    const char *row[ROWS_MAX];
    __m512 acc[ROWS_MAX][NR];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        row[r] = (const char *)w + (uint64_t)(r < rows ? r : rows - 1) * w_row_bytes;
#pragma GCC unroll 16
        for (int t = 0; t < nr; t++)
            acc[r][t] = _mm512_setzero_ps();
    }
    int64_t k = 0;
#ifdef TLM_PF
    const int64_t esize = type == TLM_TYPE_F32 ? 4 : 2;
    if (nr == 1) {
        for (; k + VL <= n_in; k += VL) {
#pragma GCC unroll 16
            for (int r = 0; r < mr; r++)
                _mm_prefetch(row[r] + k * esize + TLM_PF, _MM_HINT_T0);
            fma_step(acc, type, mr, nr, row, x, ldx, k, VL);
        }
    }
#endif
    for (; k + VL <= n_in; k += VL)
        fma_step(acc, type, mr, nr, row, x, ldx, k, VL);
    if (k < n_in) fma_step(acc, type, mr, nr, row, x, ldx, k, n_in - k);
#pragma GCC unroll 16
    for (int t = 0; t < nr; t++)
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++)
            if (r < rows) y[t * ldy + r] = hsum(acc[r][t]);
}

/* The shapes tlm_matmul_blocked asks for: (MR, 1..NR) and (DECODE_MR, 1). */
TLM_INLINE void tile_any(int type, int mr, int nr, int rows, float *y, int64_t ldy, const void *w,
                         uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_in)
{
    /* clang-format off */
    if (mr == DECODE_MR && nr == 1) tile_shape(type, DECODE_MR, 1, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
    else if (nr == 1) tile_shape(type, MR, 1, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
    else if (nr == 2) tile_shape(type, MR, 2, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
    else if (nr == 3) tile_shape(type, MR, 3, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
    else tile_shape(type, MR, NR, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
    /* clang-format on */
}

static void tile_f32(int mr, int nr, int rows, float *y, int64_t ldy, const void *w,
                     uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_in)
{
    tile_any(TLM_TYPE_F32, mr, nr, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
}

static void tile_f16(int mr, int nr, int rows, float *y, int64_t ldy, const void *w,
                     uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_in)
{
    tile_any(TLM_TYPE_F16, mr, nr, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
}

static void tile_bf16(int mr, int nr, int rows, float *y, int64_t ldy, const void *w,
                      uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_in)
{
    tile_any(TLM_TYPE_BF16, mr, nr, rows, y, ldy, w, w_row_bytes, x, ldx, n_in);
}

static const tlm_matmul_tiles tiles_f32 = {tile_f32, MR, NR, DECODE_MR};
static const tlm_matmul_tiles tiles_f16 = {tile_f16, MR, NR, DECODE_MR};
static const tlm_matmul_tiles tiles_bf16 = {tile_bf16, MR, NR, DECODE_MR};

void tlm_matmul_f32_avx512(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                           const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                           int64_t r1)
{
    tlm_matmul_blocked(&tiles_f32, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_f16_avx512(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                           const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                           int64_t r1)
{
    tlm_matmul_blocked(&tiles_f16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_bf16_avx512(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                            const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0,
                            int64_t r1)
{
    tlm_matmul_blocked(&tiles_bf16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}
