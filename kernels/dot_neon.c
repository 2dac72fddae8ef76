/* dot_neon.c - dot_body.h with NEON. */
#include "simd_neon.h"

#include "dot_body.h"
