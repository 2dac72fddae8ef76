/* test_convert.c - F16 / BF16 <-> F32: the scalar conversions against independent
 * computations (ldexp decoding, nearest-value search in double) and against the x86
 * hardware instructions where the CPU has them; then every to_f32 slot against the
 * reference, bit for bit, on all 65536 patterns with odd lengths and unaligned pointers. */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "isa_tables.h"

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- independent computations ----------------------------------------------------------- */

/* f16 decoded by its definition: (-1)^s 2^(e-15) (1 + m/1024), subnormals 2^-14 m/1024. */
static double f16_value(uint16_t h)
{
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp(1024 + m, e - 25);
    return h & 0x8000 ? -v : v;
}

/* The f16 nearest to finite f (ties to the even pattern), by search over all finite f16s in
 * double, where every difference involved is exact. Values at or past 65520 round to Inf. */
static uint16_t f16_nearest(float f)
{
    double a = fabs((double)f);
    uint16_t sign = signbit(f) ? 0x8000 : 0;
    if (a >= 65520.0) return sign | 0x7c00;
    uint16_t lo = 0, hi = 0x7bff; /* positive finite patterns increase with their value */
    while (lo < hi) {             /* the largest pattern with value <= a */
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (f16_value(mid) <= a)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff) return sign | lo; /* between 65504 and 65520 */
    double below = a - f16_value(lo), above = f16_value((uint16_t)(lo + 1)) - a;
    uint16_t pick = below < above   ? lo
                    : above < below ? (uint16_t)(lo + 1)
                    : (lo & 1)      ? (uint16_t)(lo + 1)
                                    : lo;
    return sign | pick;
}

/* The bf16 nearest to finite f: the closer of the two patterns around it, compared in
 * double (exact here); past the largest finite bf16 the next value up counts as 2^128. */
static uint16_t bf16_nearest(float f)
{
    uint32_t u = bits_of(f);
    uint16_t down = (uint16_t)(u >> 16), up = (uint16_t)(down + 1);
    if ((u & 0xffff) == 0) return down;
    double a = fabs((double)f), below = a - fabs((double)float_of((uint32_t)down << 16));
    double up_value =
        (up & 0x7f80) == 0x7f80 ? ldexp(1, 128) : fabs((double)float_of((uint32_t)up << 16));
    double above = up_value - a;
    return below < above ? down : above < below ? up : (down & 1) ? up : down;
}

/* ---- hardware -------------------------------------------------------------------------- */

#if defined(__aarch64__)
/* FCVT: every ARMv8-A core converts between f16 and f32 (round to nearest even) */
#define HW_F16 true
static float hw_f16_to_f32(uint16_t h)
{
    __fp16 x;
    memcpy(&x, &h, 2);
    return x;
}

static uint16_t hw_f32_to_f16(float f)
{
    __fp16 x = (__fp16)f;
    uint16_t h;
    memcpy(&h, &x, 2);
    return h;
}
#elif defined(__x86_64__) || defined(__i386__)
#define HW_F16 tlm_cpu_has(TLM_CPU_F16C)
__attribute__((target("f16c"))) static float hw_f16_to_f32(uint16_t h)
{
    return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h)));
}

__attribute__((target("f16c"))) static uint16_t hw_f32_to_f16(float f)
{
    return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(f), _MM_FROUND_TO_NEAREST_INT), 0);
}
#else
#define HW_F16 false
static float hw_f16_to_f32(uint16_t h) { return tlm_f16_to_f32(h); }
static uint16_t hw_f32_to_f16(float f) { return tlm_f32_to_f16(f); }
#endif

/* ---- tests ----------------------------------------------------------------------------- */

static void test_f16_to_f32(void)
{
    bool f16c = HW_F16;
    int bad_def = 0, bad_hw = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        float f = tlm_f16_to_f32((uint16_t)h);
        double want = f16_value((uint16_t)h);
        bool ok = isnan(want) ? isnan(f) && !!signbit(f) == !!(h & 0x8000) &&
                                    (bits_of(f) & 0x7fffff) == (0x400000 | (h & 0x3ff) << 13)
                              : (double)f == want && !!signbit(f) == !!(h & 0x8000);
        bad_def += !ok;
        if (f16c) bad_hw += bits_of(f) != bits_of(hw_f16_to_f32((uint16_t)h));
    }
    check(bad_def == 0, "tlm_f16_to_f32: %d of 65536 patterns differ from the definition", bad_def);
    if (f16c)
        check(bad_hw == 0, "tlm_f16_to_f32: %d of 65536 patterns differ from F16C", bad_hw);
    else
        n_skip++;
}

/* Floats that probe f32 -> f16 rounding: every f16 value, the midpoints between neighbours
 * and the floats just beside them, the overflow edge, then random bit patterns. */
static int64_t f16_probes(float *out)
{
    int64_t n = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        float v = (float)f16_value((uint16_t)h), next = (float)f16_value((uint16_t)(h + 1));
        float mid = (float)(((double)v + (h + 1 < 0x7c00 ? (double)next : 65536.0)) / 2);
        float probes[] = {v, mid, nextafterf(mid, 0), nextafterf(mid, INFINITY)};
        for (size_t i = 0; i < COUNT(probes); i++) {
            out[n++] = probes[i];
            out[n++] = -probes[i];
        }
    }
    float edges[] = {65504.0f,
                     65519.99f,
                     65520.0f,
                     65536.0f,
                     1e10f,
                     FLT_MAX,
                     INFINITY,
                     FLT_MIN,
                     1e-40f,
                     0x1p-25f,
                     nextafterf(0x1p-25f, 1),
                     0x1p-26f};
    for (size_t i = 0; i < COUNT(edges); i++) {
        out[n++] = edges[i];
        out[n++] = -edges[i];
    }
    for (int i = 0; i < 1000000; i++)
        out[n++] = float_of((uint32_t)rng_next());
    return n;
}

static void test_f32_to_f16(void)
{
    bool f16c = HW_F16;
    float *probes = malloc((0x7c00 * 8 + 1000100) * sizeof(float));
    int64_t n = f16_probes(probes);
    int64_t bad_def = 0, bad_hw = 0;
    for (int64_t i = 0; i < n; i++) {
        float f = probes[i];
        uint16_t h = tlm_f32_to_f16(f);
        uint16_t want =
            isnan(f) ? (uint16_t)((bits_of(f) >> 16 & 0x8000) | 0x7e00 | (bits_of(f) >> 13 & 0x3ff))
                     : f16_nearest(f);
        if (h != want && bad_def++ < 5)
            printf("  f32 %08x -> f16 %04x, want %04x\n", bits_of(f), h, want);
        if (f16c) bad_hw += h != hw_f32_to_f16(f);
    }
    check(bad_def == 0, "tlm_f32_to_f16: %lld of %lld floats differ from the nearest f16",
          (long long)bad_def, (long long)n);
    if (f16c)
        check(bad_hw == 0, "tlm_f32_to_f16: %lld of %lld floats differ from F16C",
              (long long)bad_hw, (long long)n);
    else
        n_skip++;
    free(probes);
}

static void test_bf16(void)
{
    int bad = 0;
    for (uint32_t h = 0; h < 65536; h++)
        bad += bits_of(tlm_bf16_to_f32((uint16_t)h)) != h << 16;
    check(bad == 0, "tlm_bf16_to_f32: %d of 65536 patterns are not the high half", bad);

    int64_t bad_def = 0, n = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)rng_next();
        if (i % 4 == 1) u = (u & 0xffff0000) | 0x8000; /* exact ties */
        if (i % 4 == 2) u = (u & 0xffff0000) | 0x7fff;
        float f = float_of(u);
        uint16_t h = tlm_f32_to_bf16(f), want;
        if (isnan(f))
            want = (uint16_t)(u >> 16 | 0x40); /* stays NaN, made quiet */
        else
            want = bf16_nearest(f);
        if (h != want && bad_def++ < 5) printf("  f32 %08x -> bf16 %04x, want %04x\n", u, h, want);
        n++;
    }
    check(bad_def == 0, "tlm_f32_to_bf16: %lld of %lld floats differ from the nearest bf16",
          (long long)bad_def, (long long)n);
    check(tlm_f32_to_bf16(FLT_MAX) == 0x7f80 && tlm_f32_to_bf16(-FLT_MAX) == 0xff80,
          "tlm_f32_to_bf16: FLT_MAX must round to Inf");

    /* the inline rounding the runtime uses: every high half (sign, exponent, NaNs, the bit
     * that breaks ties) with the low halves around the rounding points */
    static const uint32_t lows[] = {0, 1, 0x7ffe, 0x7fff, 0x8000, 0x8001, 0xfffe, 0xffff};
    int64_t bad_inline = 0;
    for (uint32_t hi = 0; hi < 65536; hi++)
        for (size_t i = 0; i < sizeof lows / sizeof *lows; i++) {
            const uint32_t u = hi << 16 | lows[i];
            const float f = float_of(u);
            if (bits_of(tlm_bf16_round(f)) != (uint32_t)tlm_f32_to_bf16(f) << 16 &&
                bad_inline++ < 5)
                printf("  f32 %08x -> %08x\n", (unsigned)u, bits_of(tlm_bf16_round(f)));
        }
    check(bad_inline == 0, "tlm_bf16_round: %lld of 524288 floats differ from tlm_f32_to_bf16",
          (long long)bad_inline);
}

/* Every to_f32 slot of every SIMD level gives the reference's bits. */
static void test_to_f32_slots(const tlm_kernels *ref, const isa_table simd[N_SIMD])
{
    static const int64_t lengths[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257, 4099, 65536};
    static const tlm_dtype types[] = {TLM_DT_F32, TLM_DT_F16, TLM_DT_BF16};
    float *src32 = buf_new(65536, 0), *want = buf_new(65536, 0), *got = buf_new(65536 + 8, 1);
    uint16_t *src16 = (uint16_t *)src32 + 1; /* 2 bytes past a 64-byte boundary */
    for (size_t ti = 0; ti < COUNT(types); ti++) {
        tlm_dtype type = types[ti];
        const void *src = type == TLM_DT_F32 ? (const void *)(src32 + 1) : (const void *)src16;
        for (size_t li = 0; li < COUNT(lengths); li++) {
            int64_t n = lengths[li];
            if (type == TLM_DT_F32) { /* random floats, all but the first of src32 */
                n = n < 65535 ? n : 65535;
                fill_uniform(src32 + 1, n, -1e30f, 1e30f);
            } else { /* every 16-bit pattern, then the rest of src32 */
                for (uint32_t i = 0; i < 65536; i++)
                    src16[i] = (uint16_t)(i * 40503u);
            }
            ref->to_f32[type](want, src, n);
            for (int s = 0; s < N_SIMD; s++) {
                if (!simd[s].available) {
                    n_skip++;
                    continue;
                }
                got[n] = 12345.0f; /* the element after the end stays */
                simd[s].k.to_f32[type](got, src, n);
                check(memcmp(got, want, (size_t)n * 4) == 0 && got[n] == 12345.0f,
                      "%s to_f32 type %d n %lld differs from ref", simd[s].name, type,
                      (long long)n);
            }
        }
    }
    buf_free(src32);
    buf_free(want);
    buf_free(got);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    test_f16_to_f32();
    test_f32_to_f16();
    test_bf16();
    test_to_f32_slots(&ref, simd);
    return finish("convert");
}
