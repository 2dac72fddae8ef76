/* norm_neon.c - norm_body.h with NEON. */
#include "simd_neon.h"

#include "norm_body.h"
