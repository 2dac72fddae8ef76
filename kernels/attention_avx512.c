/* attention_avx512.c - attention_body.h with AVX-512. */
#include "simd_avx512.h"

#include "attention_body.h"
