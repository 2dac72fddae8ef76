/* checked.h - overflow-checked 64-bit size arithmetic for everything computed from file data.
 * Each helper returns false (and leaves *out unspecified) when the exact result does not fit. */
#ifndef TLM_CHECKED_H
#define TLM_CHECKED_H

#include <stdbool.h>
#include <stdint.h>

static inline bool tlm_mul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (b != 0 && a > UINT64_MAX / b) return false;
    *out = a * b;
    return true;
}

static inline bool tlm_add_u64(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b) return false;
    *out = a + b;
    return true;
}

/* True when [offset, offset + len) lies inside a buffer of `size` bytes. */
static inline bool tlm_range_ok(uint64_t offset, uint64_t len, uint64_t size)
{
    return offset <= size && len <= size - offset;
}

#endif
