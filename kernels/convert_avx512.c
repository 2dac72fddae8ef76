/* convert_avx512.c - convert_body.h with AVX-512. */
#include "simd_avx512.h"

#include "convert_body.h"
