/* matmul_avx512.c - matmul_body.h's float tiles with AVX-512.
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
 * measured 8% slower on them). F16 widens with vcvtph2ps, BF16 with a 16-bit shift.
 * Re-measured on Zen 5 (2-core VM shared with other builds; old and new kernels alternated
 * in one process, medians of 7-15 runs; prefill by thread CPU time on F16 groups, decode by
 * wall time on a 1 GiB matrix, rough), against the shapes above: prefill 4 x 6 on groups
 * (each weight vector widened once for 6 tokens) 0.85-0.91x, 6 x 4 on groups 0.97-1.07x
 * (noise); decode 8 rows on groups (two streams, 8 chains) 0.66x from memory, 0.82x from L3;
 * software prefetch in the decode tile on groups (to L2 one tile or 64-128 KiB ahead:
 * 0.88-1.07x; to L1 1-2 KiB ahead: 0.91-0.94x), no consistent gain: the hardware prefetchers
 * already follow one stream per core. The 8 x 3 tile ran at 145-188 GFLOP/s per core (n_in
 * 2048 and 5632, L2-resident) against 210 for a loop of register-only FMAs, same conditions.
 * The AVX-512 table now reads F16 and BF16 matrices with 16 rows in the lanes instead
 * (matmul_lanes_avx512.c); the tiles on 4-row groups stay built, and tested, to compare. */
#include "simd_avx512.h"

enum { MR = 6, NR = 4, DECODE_MR = 1, IL_MR = 8, IL_NR = 3, IL_DECODE_MR = 4 };

#include "matmul_body.h"
