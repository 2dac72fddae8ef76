/* qmatmul_b32_dotprod.c - qmatmul_b32_body.h (Q4_1, Q5_0, Q5_1 and IQ4_NL) with SDOT
 * (FEAT_DotProd): one instruction per 4 bytes of 4 rows (qbody_neon.h). */
#define TLM_ISA_FN(name) name##_dotprod
#include "simd_neon.h"

#define QDOT_SDOT 1
#define QMATMUL_FN(name) name##_dotprod
#include "qbody_neon.h"

#include "qmatmul_b32_body.h"
