/* attention_neon.c - attention_body.h with NEON. */
#include "simd_neon.h"

#include "attention_body.h"
