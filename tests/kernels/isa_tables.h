/* isa_tables.h - the kernel tests' SIMD tables to compare with the reference, on top of the
 * shared harness (tests/harness.h).
 *
 * Each SIMD level the CPU has is compared with the reference; a level it lacks is counted
 * as skipped, case by case, never as passed. TLM_ISA=ref|avx2 (AArch64: ref|neon|dotprod) in
 * the environment caps the levels tested, as it caps tlm_kernels_get(). */
#ifndef TLM_TEST_ISA_TABLES_H
#define TLM_TEST_ISA_TABLES_H

#include <float.h>
#include <math.h>

#include "harness.h"
#include "kernels_impl.h"

typedef struct isa_table {
    const char *name;
    bool available; /* the CPU runs it (and TLM_ISA does not cap it away) */
    tlm_kernels k;
} isa_table;

/* The SIMD levels of the architecture built for, lowest first (dispatch.c). */
#if defined(__aarch64__)
enum { N_SIMD = 3 };
static const char *const simd_names[N_SIMD] = {"neon", "dotprod", "i8mm"};
#else
enum { N_SIMD = 2 };
static const char *const simd_names[N_SIMD] = {"avx2", "avx512"};
#endif

/* The reference table and the SIMD levels (filled only when available). */
static inline void tables_get(tlm_kernels *ref, isa_table simd[N_SIMD])
{
    const char *const *names = simd_names;
    const char *cap = getenv("TLM_ISA");
    int cap_level = N_SIMD; /* levels 1..cap_level are tested; 0 is the reference */
    if (cap && strcmp(cap, "ref") == 0) cap_level = 0;
    for (int i = 0; cap && i < N_SIMD; i++)
        if (strcmp(cap, names[i]) == 0) cap_level = i + 1;
    tlm_kernels_init_ref(ref);
    for (int i = 0; i < N_SIMD; i++) {
        simd[i].name = names[i];
        tlm_kernels_fill(&simd[i].k, names[i]);
        simd[i].available = strcmp(simd[i].k.isa, names[i]) == 0 && i + 1 <= cap_level;
        if (!simd[i].available)
            printf("%s: SKIPPED (not on this CPU, or above TLM_ISA)\n", names[i]);
    }
}

#endif
