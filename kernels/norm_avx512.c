/* norm_avx512.c - norm_body.h with AVX-512. */
#include "simd_avx512.h"

#include "norm_body.h"
