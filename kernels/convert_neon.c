/* convert_neon.c - convert_body.h with NEON (FCVTL). */
#include "simd_neon.h"

#include "convert_body.h"
