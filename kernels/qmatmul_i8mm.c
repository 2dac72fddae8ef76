/* qmatmul_i8mm.c - qmatmul_neon_body.h with SDOT, and SMMLA (FEAT_I8MM) for the prefill tiles
 * of 2 rows x 2 tokens read from rows (every type; Q8_0 and Q4_0 matrices are usually
 * interleaved, and those groups are read by SDOT): 32 int8 products per instruction. */
#define TLM_ISA_FN(name) name##_i8mm
#include "simd_neon.h"

#define QDOT_I8MM 1
#define QMATMUL_FN(name) name##_i8mm
#include "qmatmul_neon_body.h"
