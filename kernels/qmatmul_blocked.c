/* qmatmul_blocked.c - loop nest of the SIMD quantized matmuls (see qmatmul_blocked.h).
 *
 * Tokens go in blocks of up to TOK_BLOCK. For a block, the activations of a range of k are
 * quantized once (into XQ_BYTES of stack, the same for all rows), then each group of 16 rows
 * is packed PACK_BYTES at a time, which stays in L1 while every tile of tokens passes over
 * it. A large TOK_BLOCK spreads the packing over many tokens; when the activations of the
 * block do not fit for all of k, k is cut into ranges. Between packed chunks the running
 * sums wait in y itself (exact floats, reread in order of k). A single token skips the
 * packing: gemv streams each row group once, straight from the weights; so do up to
 * TLM_QSMALL tokens where the ops have a gemm (small_batch), each weight vector serving
 * every token of a pass. */
#include <stddef.h>

#include "qmatmul_blocked.h"

enum {
    TOK_BLOCK = 256,        /* tokens per block, at most */
    PACK_BYTES = 24 * 1024, /* packed weights, in L1 */
    XQ_BYTES = 224 * 1024,  /* quantized activations (all: 248 KB of stack) */
};

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* A small batch (tb tokens) on one row group, straight from the weights: k in chunks of
 * about PACK_BYTES, so that a chunk read from memory by the first pass of nb tokens is still
 * in L1 for the next passes; the running sums wait in y between chunks (exact floats, reread
 * in order of k, as between packed chunks). */
static void small_batch(const tlm_qmatmul_ops *ops, float *y, int64_t ldy, int rows, int64_t tb,
                        const char *w, uint64_t w_row_bytes, int64_t u0, int64_t nu, const char *xq,
                        int64_t xs, const char *next)
{
    int64_t kc = PACK_BYTES / ((int64_t)ops->unit_bytes * TLM_QROWS);
    if (kc < 1) kc = 1;
    for (int64_t k = 0; k < nu; k += kc) {
        const int64_t nk = min64(kc, nu - k);
        for (int64_t t = 0; t < tb; t += ops->nb)
            ops->gemm(y + t * ldy, ldy, rows, u0 + k > 0, (int)min64(ops->nb, tb - t), w,
                      w_row_bytes, u0 + k, nk, xq + t * xs + k * ops->x_bytes, xs,
                      t == 0 ? next : NULL);
    }
}

void tlm_qmatmul_blocked(const tlm_qmatmul_ops *ops, float *y, int64_t ldy, const void *w,
                         uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok,
                         int64_t n_in, int64_t r0, int64_t r1)
{
    _Alignas(64) unsigned char packed[PACK_BYTES];
    _Alignas(64) char xq[XQ_BYTES];
    const char *wb = w;
    const int64_t n_units = n_in / ops->unit, x_bytes = ops->x_bytes;
    int64_t kc = PACK_BYTES / ops->pack_bytes; /* units packed at a time */
    if (kc < 1) kc = 1;
    if (n_units == 0) /* an empty sum */
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t r = r0; r < r1; r++)
                y[t * ldy + r] = 0.0f;

    for (int64_t t0 = 0; t0 < n_tok; t0 += TOK_BLOCK) {
        const int64_t tb = min64(TOK_BLOCK, n_tok - t0);
        int64_t kx = XQ_BYTES / (tb * x_bytes); /* units of activations held at a time, >= 1 */
        if (kx > kc) kx -= kx % kc;
        for (int64_t u0 = 0; u0 < n_units; u0 += kx) {
            const int64_t nu = min64(kx, n_units - u0), xs = nu * x_bytes;
            for (int64_t t = 0; t < tb; t++)
                ops->quantize_x(xq + t * xs, x + (t0 + t) * ldx + u0 * ops->unit, nu);

            for (int64_t r = r0; r < r1; r += TLM_QROWS) {
                const int rows = (int)min64(TLM_QROWS, r1 - r);
                if (tb == 1 &&
                    ops->gemv) { /* decode: each weight used once, packing would not pay */
                    const char *next = r + 2 * TLM_QROWS <= r1
                                           ? wb + (uint64_t)(r + TLM_QROWS) * w_row_bytes
                                           : NULL;
                    ops->gemv(y + t0 * ldy + r, rows, u0 > 0, wb + (uint64_t)r * w_row_bytes,
                              w_row_bytes, u0, nu, xq, next);
                    continue;
                }
                if (tb <= TLM_QSMALL && ops->gemm) { /* a few sequences' decode */
                    const char *next = r + 2 * TLM_QROWS <= r1
                                           ? wb + (uint64_t)(r + TLM_QROWS) * w_row_bytes
                                           : NULL;
                    small_batch(ops, y + t0 * ldy + r, ldy, rows, tb,
                                wb + (uint64_t)r * w_row_bytes, w_row_bytes, u0, nu, xq, xs, next);
                    continue;
                }
                for (int64_t k = 0; k < nu; k += kc) {
                    const int64_t nk = min64(kc, nu - k);
                    ops->pack(packed, wb + (uint64_t)r * w_row_bytes, w_row_bytes, rows, u0 + k,
                              nk);
                    for (int64_t t = 0; t < tb; t += ops->nr)
                        ops->tile(y + (t0 + t) * ldy + r, ldy, rows, u0 + k > 0,
                                  (int)min64(ops->nr, tb - t), packed, nk,
                                  xq + t * xs + k * x_bytes, xs);
                }
            }
        }
    }
}

/* The loop nest takes groups from r0 on, so a range starting inside a group first has that
 * group computed whole, 16 tokens at a time, keeping its rows in the range (the same bits: a
 * lane's sums never depend on the others). */
void tlm_qmatmul_il(const tlm_qmatmul_ops *ops, float *y, int64_t ldy, const void *w,
                    uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok, int64_t n_in,
                    int64_t r0, int64_t r1)
{
    if (r0 % TLM_QROWS) {
        const int64_t g0 = r0 - r0 % TLM_QROWS, hi = r1 < g0 + TLM_QROWS ? r1 : g0 + TLM_QROWS;
        const char *wg = (const char *)w + (uint64_t)g0 * w_row_bytes;
        float part[TLM_QROWS * TLM_QROWS];
        for (int64_t t0 = 0; t0 < n_tok; t0 += TLM_QROWS) {
            const int64_t nt = n_tok - t0 < TLM_QROWS ? n_tok - t0 : TLM_QROWS;
            tlm_qmatmul_blocked(ops, part, TLM_QROWS, wg, w_row_bytes, x + t0 * ldx, ldx, nt, n_in,
                                0, TLM_QROWS);
            for (int64_t t = 0; t < nt; t++)
                for (int64_t r = r0; r < hi; r++)
                    y[(t0 + t) * ldy + r] = part[t * TLM_QROWS + (r - g0)];
        }
        r0 = hi;
    }
    if (r0 < r1) tlm_qmatmul_blocked(ops, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}
