/* matmul_neon.c - matmul_body.h's float tiles with AArch64 AdvSIMD (NEON).
 *
 * AArch64 has 32 vector registers: prefill tiles are 8 weight rows x 3 tokens, 24
 * accumulators plus the 3 activation vectors and one streaming weight vector (28). Decode
 * tiles are 8 rows x 1 token: FMLA's latency of 4 on two pipes (Cortex-A76, Neoverse N1) needs
 * 8 independent chains. Groups of 4 rows take the same tiles. F16 widens with FCVTL, BF16
 * with a 16-bit shift. */
#include "simd_neon.h"

enum { MR = 8, NR = 3, DECODE_MR = 8, IL_MR = MR, IL_NR = NR, IL_DECODE_MR = DECODE_MR };

#include "matmul_body.h"
