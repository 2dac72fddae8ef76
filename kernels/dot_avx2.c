/* dot_avx2.c - dot_body.h with AVX2 + FMA. */
#include "simd_avx2.h"

#include "dot_body.h"
