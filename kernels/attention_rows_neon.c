/* attention_rows_neon.c - attention_rows_body.h with 4 lanes and AArch64's 32 registers: 6 keys
 * x 4 query vectors per score pass (24 accumulators), up to 8 value vectors (32 dimensions) per
 * weigh pass with about 24 accumulators. */
#include "simd_neon.h"

enum { ROWS_SVECS = 4, ROWS_WVECS = 8, ROWS_WACC = 24 };

#include "attention_rows_body.h"
