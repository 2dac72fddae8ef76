/* dot_avx512.c - dot_body.h with AVX-512. */
#include "simd_avx512.h"

#include "dot_body.h"
