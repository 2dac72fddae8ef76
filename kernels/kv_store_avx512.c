/* kv_store_avx512.c - kv_store_body.h with AVX-512. */
#include "simd_avx512.h"

#include "kv_store_body.h"
