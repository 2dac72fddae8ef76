/* dequant_avx512.c - dequant_body.h with AVX-512. */
#include "simd_avx512.h"

#include "dequant_body.h"
