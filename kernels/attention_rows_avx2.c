/* attention_rows_avx2.c - attention_rows_body.h with 8 lanes, its tiles cut to AVX2's 16
 * registers: 6 keys x 2 query vectors per score pass, 6 queries x 2 value vectors per weigh
 * pass. */
#include "simd_avx2.h"

enum { ROWS_SVECS = 2, ROWS_WVECS = 2, ROWS_WACC = 12 };

#include "attention_rows_body.h"
