/* attention_rows_avx512.c - attention_rows_body.h with 16 lanes and AVX-512's 32 registers:
 * 6 keys x up to 4 query vectors per score pass (a whole block), up to 8 value vectors (128
 * dimensions) per weigh pass with about 24 accumulators. */
#include "simd_avx512.h"

enum { ROWS_SVECS = 4, ROWS_WVECS = 8, ROWS_WACC = 24 };

#include "attention_rows_body.h"
