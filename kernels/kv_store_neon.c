/* kv_store_neon.c - kv_store_body.h with NEON. */
#include "simd_neon.h"

#include "kv_store_body.h"
