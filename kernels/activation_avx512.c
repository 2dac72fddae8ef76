/* activation_avx512.c - activation_body.h with AVX-512. */
#include "simd_avx512.h"

#include "activation_body.h"
