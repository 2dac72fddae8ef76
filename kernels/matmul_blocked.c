/* matmul_blocked.c - loop nest of the SIMD matmuls (see matmul_blocked.h).
 *
 * Nothing is packed: a tile reads the weights where they are stored, converting each vector
 * as it loads it, and keeps its sums in registers over all of K. Tokens go in blocks whose
 * activations fit in half of L2 (X_BLOCK_BYTES); within a block, each group of weight rows
 * comes from memory once and then from L1/L2 for every tile of tokens.
 * (Chunking K so that a row group stays in L1 measured no faster on Zen 4, and it needs
 * partial sums parked in memory; packing the weights was slower than converting in place.
 * Zen 5, thread CPU time, old and new alternated in one process on a shared machine: K in
 * chunks sized to 24 or 40 KiB of L1 per tile (F16 groups, 8 x 3), accumulators parked
 * between chunks (same bits), gave 0.82-0.83x and 0.88-0.95x at n_in 2048; at 5632, 24, 40
 * and 64 KiB chunks gave 0.80-0.91x, 0.95-1.04x and 0.93-1.12x (no consistent gain); token
 * blocks of 256 KiB, 1 MiB or 2 MiB of activations instead of 512 KiB were no faster. F32
 * weights (6 x 4 on rows: twice the bytes, no widening) ran at about 0.7x the GFLOP/s of F16
 * groups in the same session, which suggests the tiles wait on operand bytes rather than on
 * the widening: packing F16 to F32 panels was not retried.) */
#include "matmul_blocked.h"

enum { X_BLOCK_BYTES = 512 * 1024 };

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

void tlm_matmul_blocked(const tlm_matmul_tiles *tiles, float *y, int64_t ldy, const void *w,
                        uint64_t w_row_bytes, const float *x, int64_t ldx, int64_t n_tok,
                        int64_t n_in, int64_t r0, int64_t r1)
{
    const int mr = n_tok == 1 ? tiles->decode_mr : tiles->mr, nr = tiles->nr;
    int64_t block = X_BLOCK_BYTES / ((n_in > 0 ? n_in : 1) * (int64_t)sizeof(float)) / nr * nr;
    if (block < nr) block = nr;

    for (int64_t t0 = 0; t0 < n_tok; t0 += block) {
        int64_t t1 = min64(n_tok, t0 + block);
        for (int64_t r = r0; r < r1; r += mr)
            for (int64_t t = t0; t < t1; t += nr)
                tiles->tile(mr, (int)min64(nr, t1 - t), (int)min64(mr, r1 - r), y + t * ldy + r,
                            ldy, w, w_row_bytes, r, x + t * ldx, ldx, n_in);
    }
}
