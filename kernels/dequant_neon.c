/* dequant_neon.c - dequant_body.h with NEON. */
#include "simd_neon.h"

#include "dequant_body.h"
