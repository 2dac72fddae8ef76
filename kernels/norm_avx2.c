/* norm_avx2.c - norm_body.h with AVX2 + FMA. */
#include "simd_avx2.h"

#include "norm_body.h"
