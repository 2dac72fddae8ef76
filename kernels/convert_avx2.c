/* convert_avx2.c - convert_body.h with AVX2 + F16C. */
#include "simd_avx2.h"

#include "convert_body.h"
