/* activation_avx2.c - activation_body.h with AVX2 + FMA. */
#include "simd_avx2.h"

#include "activation_body.h"
