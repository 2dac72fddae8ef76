/* harness.h - shared by the kernel tests: pass/fail/skip counters, a seeded generator,
 * unaligned buffers and the SIMD tables to compare with the reference.
 *
 * Each SIMD level the CPU has is compared with the reference; a level it lacks is counted
 * as skipped, case by case, never as passed. TLM_ISA=ref|avx2 in the environment caps the
 * levels tested, as it caps tlm_kernels_get(). */
#ifndef TLM_TEST_HARNESS_H
#define TLM_TEST_HARNESS_H

#include <float.h>
#include <stddef.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_impl.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int n_pass, n_fail, n_skip;

/* Counts one check; prints the first 20 failures with their context. */
static inline bool check(bool ok, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        return true;
    }
    if (++n_fail <= 20) {
        va_list ap;
        va_start(ap, fmt);
        printf("FAIL ");
        vprintf(fmt, ap);
        printf("\n");
        va_end(ap);
    }
    return false;
}

/* The one line tests/run.sh reads; the exit status is non-zero on any failure. */
static inline int finish(const char *name)
{
    printf("test_%s: %d passed, %d failed, %d skipped\n", name, n_pass, n_fail, n_skip);
    return n_fail != 0;
}

/* ---- tables --------------------------------------------------------------------------- */

typedef struct isa_table {
    const char *name;
    bool available; /* the CPU runs it (and TLM_ISA does not cap it away) */
    tlm_kernels k;
} isa_table;

enum { N_SIMD = 2 };

/* The reference table and the SIMD levels avx2, avx512 (filled only when available). */
static inline void tables_get(tlm_kernels *ref, isa_table simd[N_SIMD])
{
    static const char *names[N_SIMD] = {"avx2", "avx512"};
    const char *cap = getenv("TLM_ISA");
    int cap_level = N_SIMD; /* levels 1..cap_level are tested; 0 is the reference */
    if (cap && strcmp(cap, "ref") == 0) cap_level = 0;
    if (cap && strcmp(cap, "avx2") == 0) cap_level = 1;
    tlm_kernels_init_ref(ref);
    for (int i = 0; i < N_SIMD; i++) {
        simd[i].name = names[i];
        tlm_kernels_fill(&simd[i].k, names[i]);
        simd[i].available = strcmp(simd[i].k.isa, names[i]) == 0 && i + 1 <= cap_level;
        if (!simd[i].available)
            printf("%s: SKIPPED (not on this CPU, or above TLM_ISA)\n", names[i]);
    }
}

/* ---- data ------------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static inline uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static inline float rng_float(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(rng_next() >> 11) * 0x1.0p-53);
}

static inline void fill_uniform(float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = rng_float(lo, hi);
}

/* A buffer of n floats starting `skew` (0..15) floats after a 64-byte boundary, so never
 * vector-aligned when skew is odd. Free it with buf_free. */
static inline float *buf_new(int64_t n, int skew)
{
    size_t bytes = ((size_t)(n + 16) * sizeof(float) + 63) / 64 * 64 + 64;
    char *base = aligned_alloc(64, bytes);
    if (!base) {
        printf("out of memory\n");
        exit(2);
    }
    return (float *)(base + 64) + skew;
}

static inline void buf_free(float *p)
{
    if (p) free((char *)((uintptr_t)p & ~(uintptr_t)63) - 64);
}

#endif
