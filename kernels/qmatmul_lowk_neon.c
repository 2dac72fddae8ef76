/* qmatmul_lowk_neon.c - qmatmul_lowk_body.h (Q2_K, Q3_K and IQ4_XS) on baseline NEON: 4 rows per
 * vector, the 4-byte dots by SMULL / SMULL2 and pairwise adds (qbody_neon.h). */
#include "simd_neon.h"

#define QMATMUL_FN(name) name##_neon
#include "qbody_neon.h"

#include "qmatmul_lowk_body.h"
