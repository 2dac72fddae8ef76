/* qmatmul_dotprod.c - qmatmul_neon_body.h with SDOT (FEAT_DotProd): 16 int8 products into 4
 * int32 lanes per instruction. */
#define TLM_ISA_FN(name) name##_dotprod
#include "simd_neon.h"

#define QDOT_SDOT 1
#define QMATMUL_FN(name) name##_dotprod
#include "qmatmul_neon_body.h"
