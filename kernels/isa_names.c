/* isa_names.c - the TLM_ISA names of this build's architecture (see isa_names.h). */
#include "isa_names.h"

#include <stddef.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
static const char *const names[] = {"ref", "avx2", "avx512", NULL};
#elif defined(__aarch64__)
static const char *const names[] = {"ref", "neon", "dotprod", "i8mm", NULL};
#else
static const char *const names[] = {"ref", NULL};
#endif

const char *const *tlm_kernels_isa_names(void) { return names; }

bool tlm_kernels_isa_known(const char *name)
{
    for (int i = 0; name && names[i]; i++)
        if (strcmp(name, names[i]) == 0) return true;
    return false;
}
