/* kv_store_avx2.c - kv_store_body.h with AVX2 + F16C. */
#include "simd_avx2.h"

#include "kv_store_body.h"
