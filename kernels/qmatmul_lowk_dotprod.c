/* qmatmul_lowk_dotprod.c - qmatmul_lowk_body.h (Q2_K, Q3_K and IQ4_XS) with SDOT
 * (FEAT_DotProd): one instruction per 4 bytes of 4 rows (qbody_neon.h). */
#define TLM_ISA_FN(name) name##_dotprod
#include "simd_neon.h"

#define QDOT_SDOT 1
#define QMATMUL_FN(name) name##_dotprod
#include "qbody_neon.h"

#include "qmatmul_lowk_body.h"
