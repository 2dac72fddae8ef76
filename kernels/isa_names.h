/* isa_names.h - the names TLM_ISA may take on this build's architecture, for a caller that
 * can report an error (kernels cannot: dispatch.c ignores a name it does not know). */
#ifndef TLM_ISA_NAMES_H
#define TLM_ISA_NAMES_H

#include <stdbool.h>

/* The known names, NULL-terminated, lowest level first: x86-64 "ref", "avx2", "avx512";
 * AArch64 "ref", "neon", "dotprod", "i8mm"; elsewhere "ref". The same lists as dispatch.c. */
const char *const *tlm_kernels_isa_names(void);

/* Whether name is one of them. */
bool tlm_kernels_isa_known(const char *name);

#endif
