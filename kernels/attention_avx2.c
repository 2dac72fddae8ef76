/* attention_avx2.c - attention_body.h with AVX2 + FMA + F16C. */
#include "simd_avx2.h"

#include "attention_body.h"
