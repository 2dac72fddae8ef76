/* qmatmul_i8mm.c - qmatmul_neon_body.h with SDOT, and SMMLA (FEAT_I8MM) for the Q8_0 and Q4_0
 * prefill tiles of 2 rows x 2 tokens: 32 int8 products per instruction. */
#define TLM_ISA_FN(name) name##_i8mm
#include "simd_neon.h"

#define QDOT_I8MM 1
#define QMATMUL_FN(name) name##_i8mm
#include "qmatmul_neon_body.h"
