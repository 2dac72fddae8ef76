/* harness.h - the one C test harness: pass/fail/skip counters, checks that name their file
 * and line, the result line tests/run.sh reads, and a seeded generator.
 *
 *     CHECK(st == TLM_OK, "load %s: %s", path, err.message);   (check() is the same)
 *     SKIP(3, "%s: not on this CPU", isa);      three cases that do not apply here
 *     MISSING(1, "no %s", path);                test data or a tool absent: a skip, or a
 *                                               failure when CI is set (CI=true), so CI never
 *                                               passes on an empty shelf
 *     return finish("gguf_read");               "test_gguf_read: N passed, N failed, N skipped"
 *
 * A check counts one pass or one failure: count only comparisons that can fail. Skips are
 * counted per case, never one skip for a group. The kernel tests add the SIMD tables of
 * tests/kernels/isa_tables.h. */
#ifndef TLM_TEST_HARNESS_H
#define TLM_TEST_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define HARNESS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define HARNESS_PRINTF(a, b)
#endif

static int n_pass, n_fail, n_skip;

enum { HARNESS_MAX_PRINTED = 50 }; /* failures printed in full; the rest only counted */

static inline void harness_vsay(const char *tag, const char *file, int line, const char *fmt,
                                va_list ap)
{
    printf("%s %s:%d: ", tag, file, line);
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
}

/* Counts one check; prints a failure with its file and line. Returns ok. */
static inline bool check_at(const char *file, int line, bool ok, const char *fmt, ...)
    HARNESS_PRINTF(4, 5);
static inline bool check_at(const char *file, int line, bool ok, const char *fmt, ...)
{
    if (ok) {
        n_pass++;
        return true;
    }
    if (++n_fail <= HARNESS_MAX_PRINTED) {
        va_list ap;
        va_start(ap, fmt);
        harness_vsay("FAIL", file, line, fmt, ap);
        va_end(ap);
    } else if (n_fail == HARNESS_MAX_PRINTED + 1) {
        printf("FAIL (further failures are counted, not printed)\n");
    }
    return false;
}
#define CHECK(ok, ...) check_at(__FILE__, __LINE__, (ok) ? true : false, __VA_ARGS__)
#define check(ok, ...) check_at(__FILE__, __LINE__, (ok) ? true : false, __VA_ARGS__)

/* True when running under CI (CI set and not "0"/"false"): missing data fails there. */
static inline bool harness_in_ci(void)
{
    const char *ci = getenv("CI");
    return ci && *ci && strcmp(ci, "0") != 0 && strcmp(ci, "false") != 0;
}

/* n cases that do not apply here (an instruction set this CPU lacks): counted as skipped. */
static inline void skip_at(const char *file, int line, int n, const char *fmt, ...)
    HARNESS_PRINTF(4, 5);
static inline void skip_at(const char *file, int line, int n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    n_skip += n;
    harness_vsay("SKIP", file, line, fmt, ap);
    va_end(ap);
}
#define SKIP(n, ...) skip_at(__FILE__, __LINE__, (n), __VA_ARGS__)

/* n cases that cannot run because their data or a dependency is missing: skipped on a
 * developer's machine, failed under CI. */
static inline void missing_at(const char *file, int line, int n, const char *fmt, ...)
    HARNESS_PRINTF(4, 5);
static inline void missing_at(const char *file, int line, int n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (harness_in_ci()) {
        n_fail += n;
        harness_vsay("FAIL (missing under CI)", file, line, fmt, ap);
    } else {
        n_skip += n;
        harness_vsay("SKIP (missing)", file, line, fmt, ap);
    }
    va_end(ap);
}
#define MISSING(n, ...) missing_at(__FILE__, __LINE__, (n), __VA_ARGS__)

/* The one line tests/run.sh reads; the exit status is non-zero on any failure. */
static inline int finish(const char *name)
{
    printf("test_%s: %d passed, %d failed, %d skipped\n", name, n_pass, n_fail, n_skip);
    return n_fail != 0;
}

/* ---- data ------------------------------------------------------------------------------- */

static uint64_t harness_rng = 0x9e3779b97f4a7c15u;

static inline void rng_seed(uint64_t seed) { harness_rng = seed; }

static inline uint64_t rng_next(void) /* splitmix64 */
{
    uint64_t z = (harness_rng += 0x9e3779b97f4a7c15u);
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
