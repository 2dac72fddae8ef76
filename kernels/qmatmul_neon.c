/* qmatmul_neon.c - qmatmul_neon_body.h on baseline NEON: int8 products widened by SMULL /
 * SMLAL2 and pairwise-added into int32 by SADALP. */
#include "simd_neon.h"

#define QMATMUL_FN(name) name##_neon
#include "qmatmul_neon_body.h"
