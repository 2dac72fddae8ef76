/* matmul_avx2.c - matmul_body.h's float tiles with AVX2 + FMA + F16C.
 *
 * Prefill tiles are 4 weight rows x 3 tokens: 12 accumulators and the 3 activation vectors
 * fill 15 of the 16 registers (of the shapes that fit, it measured fastest). Decode tiles
 * are 8 rows x 1 token: two FMA pipes of latency 4 need 8 independent chains. Groups of 4
 * rows take the same tiles (a decode tile is then two groups: 2 streams instead of 8).
 * F16 widens with vcvtph2ps, BF16 with a 16-bit shift. The AVX2 table reads F16 and BF16
 * matrices with 16 rows in the lanes (matmul_lanes_avx2.c); the tiles on 4-row groups stay
 * built, and tested, to compare. */
#include "simd_avx2.h"

enum { MR = 4, NR = 3, DECODE_MR = 8, IL_MR = MR, IL_NR = NR, IL_DECODE_MR = DECODE_MR };

#include "matmul_body.h"
