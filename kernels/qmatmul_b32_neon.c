/* qmatmul_b32_neon.c - qmatmul_b32_body.h (Q4_1, Q5_0, Q5_1 and IQ4_NL) on baseline NEON: 4 rows
 * per vector, the 4-byte dots by SMULL / SMULL2 and pairwise adds (qbody_neon.h). */
#include "simd_neon.h"

#define QMATMUL_FN(name) name##_neon
#include "qbody_neon.h"

#include "qmatmul_b32_body.h"
