/* convert_ref.c - exact scalar F16 / BF16 <-> F32 conversions and the reference to_f32 slots.
 *
 * NaNs follow the x86 hardware (F16C, and the BF16 shift the SIMD kernels use), so every ISA
 * level gives the same bits: f16 -> f32 makes a NaN quiet and keeps its payload; f32 -> f16
 * and f32 -> bf16 keep the payload's top bits and set the quiet bit; bf16 -> f32 is a shift. */
#include <string.h>

#include "kernels_impl.h"

static float float_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* v >> s rounded to nearest, ties to even (1 <= s <= 31). */
static uint32_t shift_round_even(uint32_t v, int s)
{
    uint32_t q = v >> s, rem = v & ((1u << s) - 1), half = 1u << (s - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

float tlm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0x1f) return float_from_bits(sign | 0x7f800000 | (mant ? 0x400000 | mant << 13 : 0));
    if (exp != 0)
        return float_from_bits(sign | (exp + 112) << 23 | mant << 13); /* bias 15 -> 127 */
    if (mant == 0) return float_from_bits(sign);
    /* subnormal, mant * 2^-24: shift the leading one up to the implicit-bit position */
    uint32_t e = 113;
    while (!(mant & 0x400)) {
        mant <<= 1;
        e--;
    }
    return float_from_bits(sign | e << 23 | (mant & 0x3ff) << 13);
}

uint16_t tlm_f32_to_f16(float f)
{
    uint32_t x = bits_from_float(f);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 | mant >> 13 : 0));
    int32_t e = (int32_t)exp - 112; /* the f16 biased exponent */
    if (e >= 31) return (uint16_t)(sign | 0x7c00);
    if (e >= 1) /* a carry out of the mantissa bumps the exponent, up to Inf: both correct */
        return (uint16_t)(sign + ((uint32_t)e << 10) + shift_round_even(mant, 13));
    if (e < -10) return (uint16_t)sign; /* below half the smallest subnormal, 2^-25 */
    /* f16 subnormal: count units of 2^-24; the significand with its implicit one is
     * (mant | 2^23) * 2^(e - 14) of them. Rounding up to 0x400 gives the smallest normal. */
    return (uint16_t)(sign + shift_round_even(mant | 0x800000, 14 - e));
}

float tlm_bf16_to_f32(uint16_t h) { return float_from_bits((uint32_t)h << 16); }

uint16_t tlm_f32_to_bf16(float f)
{
    uint32_t x = bits_from_float(f);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)(x >> 16 | 0x40);
    return (uint16_t)shift_round_even(x, 16); /* rounding past the largest finite gives Inf */
}

void tlm_to_f32_f32_ref(float *out, const void *src, int64_t n)
{
    memcpy(out, src, (size_t)n * sizeof *out);
}

void tlm_to_f32_f16_ref(float *out, const void *src, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        out[i] = tlm_f16_to_f32(h[i]);
}

void tlm_to_f32_bf16_ref(float *out, const void *src, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        out[i] = tlm_bf16_to_f32(h[i]);
}
