/* activation_neon.c - activation_body.h with NEON. */
#include "simd_neon.h"

#include "activation_body.h"
