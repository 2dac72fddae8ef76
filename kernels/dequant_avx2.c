/* dequant_avx2.c - dequant_body.h with AVX2. */
#include "simd_avx2.h"

#include "dequant_body.h"
