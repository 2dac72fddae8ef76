/* test_quant_ref.c - kernels/quant_ref.c: the reference quantizers write the GGUF block
 * layouts of kernels/quant.h, and their error on gaussian data stays within a bound per type.
 *
 * The dequantizers here are the test's own, written from the layout description (not shared
 * with any kernel). Checks:
 *   - blocks built field by field from chosen levels and scales are dequantized here, then
 *     quantized: every byte must come back (scale packing, nibble and bit order, offsets);
 *   - a hand-worked Q4_K block: its 12 scale bytes are written out literally below;
 *   - relative RMS error on gaussian rows within the bounds (measured values printed);
 *   - zero, constant, tiny and outlier blocks stay finite and sensible;
 *   - when the kernel table has a to_f32 slot for a quantized type, it must agree with the
 *     dequantizer here (skipped, and counted, while those slots are NULL). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "kernels.h"
#include "quant.h"

/* ---- the test's own dequantizers (from the layout description) ------------------------ */

static float h2f(uint16_t h) { return tlm_f16_to_f32(h); }

static void dq_q8_0(const void *src, float *y, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t i = 0; i < n; i++)
        y[i] = h2f(b[i / 32].d) * (float)b[i / 32].qs[i % 32];
}

static void dq_q4_0(const void *src, float *y, int64_t n)
{
    const block_q4_0 *b = src;
    for (int64_t i = 0; i < n; i++) {
        const block_q4_0 *k = &b[i / 32];
        int e = (int)(i % 32);
        int q = e < 16 ? k->qs[e] & 0xF : k->qs[e - 16] >> 4;
        y[i] = h2f(k->d) * (float)(q - 8);
    }
}

/* 6-bit scale and min of sub-block j from scales[12] (GGUF K-quant packing). */
static void k4_scale_min(const uint8_t *s, int j, int *sc, int *mn)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Q4_K (qh NULL) and Q5_K: element e is in chunk c = e / 64; position l = e % 32 of byte
 * qs[32c + l], low nibble for the first 32 of the chunk, high for the second; the fifth bit
 * is bit 2c (first 32) or 2c + 1 (second 32) of qh[l]. */
static float k_affine_value(uint16_t dh, uint16_t dminh, const uint8_t *scales, const uint8_t *qh,
                            const uint8_t *qs, int e)
{
    int c = e / 64, second = (e % 64) >= 32, l = e % 32, sc, mn;
    k4_scale_min(scales, e / 32, &sc, &mn);
    int q = second ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 0xF;
    if (qh) q |= ((qh[l] >> (2 * c + second)) & 1) << 4;
    return h2f(dh) * (float)sc * (float)q - h2f(dminh) * (float)mn;
}

static void dq_q4_K(const void *src, float *y, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t i = 0; i < n; i++) {
        const block_q4_K *k = &b[i / QK_K];
        y[i] = k_affine_value(k->d, k->dmin, k->scales, NULL, k->qs, (int)(i % QK_K));
    }
}

static void dq_q5_K(const void *src, float *y, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t i = 0; i < n; i++) {
        const block_q5_K *k = &b[i / QK_K];
        y[i] = k_affine_value(k->d, k->dmin, k->scales, k->qh, k->qs, (int)(i % QK_K));
    }
}

/* Q6_K: half h = e / 128, r = e % 128, l = r % 32, quarter g = r / 32: low 4 bits in
 * ql[64h + l + 32 (g odd)], low nibble for g < 2, high for g >= 2; top 2 bits at bit 2g of
 * qh[32h + l]; scale scales[8h + r / 16]. */
static void dq_q6_K(const void *src, float *y, int64_t n)
{
    const block_q6_K *b = src;
    for (int64_t i = 0; i < n; i++) {
        const block_q6_K *k = &b[i / QK_K];
        int e = (int)(i % QK_K), h = e / 128, r = e % 128, l = r % 32, g = r / 32;
        uint8_t lo = k->ql[64 * h + l + 32 * (g & 1)];
        int q = (g < 2 ? lo & 0xF : lo >> 4) | ((k->qh[32 * h + l] >> (2 * g)) & 3) << 4;
        y[i] = h2f(k->d) * (float)k->scales[8 * h + r / 16] * (float)(q - 32);
    }
}

typedef struct qtype {
    const char *name;
    tlm_dtype type;
    int block_elems, block_bytes;
    void (*quantize)(void *dst, const float *src, int64_t n);
    void (*dequantize)(const void *src, float *y, int64_t n);
    double max_rel_rmse; /* bound on gaussian data (measured values are printed) */
} qtype;

/* Bounds: the measured error plus about 10%. Measured on these 131072 values: Q8_0 0.54%,
 * Q4_0 8.55%, Q4_K 7.13%, Q5_K 3.57%, Q6_K 1.73%. Q8_0 and Q4_0 match an independent NumPy
 * simulation of the same rule; for the K-quants the floor of any uniform grid per sub-block
 * (free float scale and offset, fine search) is 6.94%, 3.31% and 1.63%, so the rest is the
 * cost of storing scales in 6 bits / int8. */
static const qtype types[] = {
    {"Q8_0", TLM_DT_Q8_0, QK8_0, sizeof(block_q8_0), tlm_quantize_q8_0_ref, dq_q8_0, 0.006},
    {"Q4_0", TLM_DT_Q4_0, QK4_0, sizeof(block_q4_0), tlm_quantize_q4_0_ref, dq_q4_0, 0.095},
    {"Q4_K", TLM_DT_Q4_K, QK_K, sizeof(block_q4_K), tlm_quantize_q4_K_ref, dq_q4_K, 0.078},
    {"Q5_K", TLM_DT_Q5_K, QK_K, sizeof(block_q5_K), tlm_quantize_q5_K_ref, dq_q5_K, 0.039},
    {"Q6_K", TLM_DT_Q6_K, QK_K, sizeof(block_q6_K), tlm_quantize_q6_K_ref, dq_q6_K, 0.019},
};
#define N_TYPES (sizeof types / sizeof types[0])

/* ---- data ------------------------------------------------------------------------------ */

static uint64_t rng_state = 0x1234567ULL;

static uint64_t next_u64(void) /* splitmix64 */
{
    uint64_t x = (rng_state += 0x9E3779B97F4A7C15ULL);
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

static double uniform01(void) { return ((double)(next_u64() >> 11) + 0.5) * 0x1.0p-53; }

static float gaussian(void)
{
    return (float)(sqrt(-2.0 * log(uniform01())) * cos(6.283185307179586 * uniform01()));
}

static int rand_int(int lo, int hi) { return lo + (int)(next_u64() % (uint64_t)(hi - lo + 1)); }

static double rel_rmse(const float *x, const float *y, int64_t n)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        num += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        den += (double)x[i] * x[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* ---- representable blocks: built from levels, must come back byte for byte ------------ */

/* An f16 scale of about `mag` with a random mantissa. */
static uint16_t rand_f16(float mag) { return tlm_f32_to_f16(mag * (float)(0.5 + uniform01())); }

static void make_q8_0(block_q8_0 *b)
{
    b->d = rand_f16(0.01f);
    for (int i = 0; i < 32; i++)
        b->qs[i] = (int8_t)rand_int(-127, 127);
    b->qs[rand_int(0, 31)] = (int8_t)(next_u64() & 1 ? 127 : -127); /* sets the scale */
}

static void make_q4_0(block_q4_0 *b)
{
    uint8_t q[32];
    for (int i = 0; i < 32; i++)
        q[i] = (uint8_t)rand_int(0, 15);
    q[rand_int(0, 31)] = 0; /* -8: the largest magnitude sets the scale */
    b->d = rand_f16(0.02f);
    if (next_u64() & 1) b->d ^= 0x8000; /* either sign */
    for (int j = 0; j < 16; j++)
        b->qs[j] = (uint8_t)(q[j] | q[j + 16] << 4);
}

/* Q4_K / Q5_K levels L[256] in [0, nmax] and 6-bit sc, mn: every sub-block uses levels 0 and
 * nmax; sc and mn reach 63 somewhere (so d, dmin are what the quantizer will find); a
 * sub-block with mn = 0 keeps its values >= 0. */
static void make_k_affine(int nmax, uint8_t *L, uint8_t *sc, uint8_t *mn)
{
    for (int j = 0; j < 8; j++) {
        sc[j] = (uint8_t)rand_int(1, 63);
        mn[j] = (uint8_t)rand_int(0, 63);
        for (int i = 0; i < 32; i++)
            L[32 * j + i] = (uint8_t)rand_int(0, nmax);
        int a = rand_int(0, 31), b = (a + rand_int(1, 31)) % 32;
        L[32 * j + a] = 0;
        L[32 * j + b] = (uint8_t)nmax;
    }
    sc[rand_int(0, 7)] = 63;
    mn[rand_int(0, 7)] = 63;
}

static void pack_k4(uint8_t *s, const uint8_t *sc, const uint8_t *mn)
{
    memset(s, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s[j] |= sc[j];
            s[j + 4] |= mn[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((mn[j] >> 4) << 6);
        }
    }
}

static void make_q4_K(block_q4_K *b)
{
    uint8_t L[256], sc[8], mn[8];
    make_k_affine(15, L, sc, mn);
    b->d = rand_f16(0.001f);
    b->dmin = rand_f16(0.002f);
    pack_k4(b->scales, sc, mn);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++)
            b->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

static void make_q5_K(block_q5_K *b)
{
    uint8_t L[256], sc[8], mn[8];
    make_k_affine(31, L, sc, mn);
    b->d = rand_f16(0.001f);
    b->dmin = rand_f16(0.002f);
    pack_k4(b->scales, sc, mn);
    memset(b->qh, 0, sizeof b->qh);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
            b->qs[32 * c + l] = (uint8_t)((lo & 0xF) | (hi & 0xF) << 4);
            b->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        }
}

/* Q6_K: each sub-block of 16 holds level 0 (q - 32 = -32, its largest magnitude); one
 * sub-block scale is -128 (the largest magnitude of the scales); no scale is 0. */
static void make_q6_K(block_q6_K *b)
{
    uint8_t L[256];
    for (int j = 0; j < 16; j++) {
        int v;
        do
            v = rand_int(-127, 127);
        while (v == 0);
        b->scales[j] = (int8_t)v;
        for (int i = 0; i < 16; i++)
            L[16 * j + i] = (uint8_t)rand_int(0, 63);
        L[16 * j + rand_int(0, 15)] = 0;
    }
    b->scales[rand_int(0, 15)] = -128;
    b->d = rand_f16(0.0005f);
    for (int h = 0; h < 2; h++)
        for (int l = 0; l < 32; l++) {
            int q1 = L[128 * h + l], q2 = L[128 * h + 32 + l];
            int q3 = L[128 * h + 64 + l], q4 = L[128 * h + 96 + l];
            b->ql[64 * h + l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
            b->ql[64 * h + 32 + l] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
            b->qh[32 * h + l] =
                (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
        }
}

static void make_block(const qtype *t, void *blk)
{
    switch (t->type) {
    case TLM_DT_Q8_0:
        make_q8_0(blk);
        break;
    case TLM_DT_Q4_0:
        make_q4_0(blk);
        break;
    case TLM_DT_Q4_K:
        make_q4_K(blk);
        break;
    case TLM_DT_Q5_K:
        make_q5_K(blk);
        break;
    default:
        make_q6_K(blk);
        break;
    }
}

static void test_exact_round_trip(const qtype *t)
{
    enum { N_BLOCKS = 64 };
    size_t bytes = (size_t)N_BLOCKS * (size_t)t->block_bytes;
    int64_t n = (int64_t)N_BLOCKS * t->block_elems;
    uint8_t *src = malloc(bytes), *dst = malloc(bytes);
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    for (int b = 0; b < N_BLOCKS; b++)
        make_block(t, src + (size_t)b * (size_t)t->block_bytes);
    t->dequantize(src, x, n);
    memset(dst, 0xAB, bytes);
    t->quantize(dst, x, n);
    int bad_block = -1;
    for (int b = 0; b < N_BLOCKS && bad_block < 0; b++)
        if (memcmp(src + (size_t)b * (size_t)t->block_bytes,
                   dst + (size_t)b * (size_t)t->block_bytes, (size_t)t->block_bytes) != 0)
            bad_block = b;
    CHECK(bad_block < 0, "%s: representable block %d does not come back byte for byte", t->name,
          bad_block);
    t->dequantize(dst, y, n);
    CHECK(memcmp(x, y, (size_t)n * sizeof *x) == 0, "%s: representable values change", t->name);
    free(src);
    free(dst);
    free(x);
    free(y);
}

/* ---- the hand-worked Q4_K block ------------------------------------------------------- */

/* Sub-block scales {63, 1, 17, 32, 42, 5, 60, 33} and mins {0, 63, 7, 20, 53, 12, 31, 48}:
 *   bytes 0-3  scales 0-3 in the low 6 bits; top 2 bits = high 2 bits of scales 4-7
 *              63|2<<6 = 0xBF, 1|0 = 0x01, 17|3<<6 = 0xD1, 32|2<<6 = 0xA0
 *   bytes 4-7  mins 0-3 in the low 6 bits; top 2 bits = high 2 bits of mins 4-7
 *              0|3<<6 = 0xC0, 63|0 = 0x3F, 7|1<<6 = 0x47, 20|3<<6 = 0xD4
 *   bytes 8-11 low nibble = low 4 bits of scales 4-7, high nibble = low 4 bits of mins 4-7
 *              42,53 -> 0x5A; 5,12 -> 0xC5; 60,31 -> 0xFC; 33,48 -> 0x01 */
static void test_q4_K_hand_block(void)
{
    static const uint8_t sc[8] = {63, 1, 17, 32, 42, 5, 60, 33};
    static const uint8_t mn[8] = {0, 63, 7, 20, 53, 12, 31, 48};
    static const uint8_t want_scales[12] = {0xBF, 0x01, 0xD1, 0xA0, 0xC0, 0x3F,
                                            0x47, 0xD4, 0x5A, 0xC5, 0xFC, 0x01};
    const float d = h2f(tlm_f32_to_f16(0.01f)), dmin = h2f(tlm_f32_to_f16(0.02f));
    float x[256];
    uint8_t L[256];
    for (int e = 0; e < 256; e++) {
        L[e] = (uint8_t)((e * 7 + 3) % 16); /* 7 is odd: each sub-block of 32 has all levels */
        int j = e / 32;
        x[e] = d * (float)sc[j] * (float)L[e] - dmin * (float)mn[j];
    }
    block_q4_K b;
    tlm_quantize_q4_K_ref(&b, x, 256);
    CHECK(memcmp(b.scales, want_scales, 12) == 0,
          "Q4_K hand block: scales %02X %02X %02X %02X %02X %02X %02X %02X %02X %02X %02X %02X",
          b.scales[0], b.scales[1], b.scales[2], b.scales[3], b.scales[4], b.scales[5], b.scales[6],
          b.scales[7], b.scales[8], b.scales[9], b.scales[10], b.scales[11]);
    CHECK(b.d == tlm_f32_to_f16(0.01f) && b.dmin == tlm_f32_to_f16(0.02f),
          "Q4_K hand block: d %04X dmin %04X", b.d, b.dmin);
    /* element 0 (L 3) low nibble and element 32 (L 3 + 224 % 16 = 3) high nibble of qs[0];
     * element 64 (L 451 % 16 = 3) starts chunk 1 at qs[32]; element 95 / 127 at qs[63] */
    CHECK(b.qs[0] == (L[0] | L[32] << 4) && b.qs[32] == (L[64] | L[96] << 4) &&
              b.qs[63] == (L[95] | L[127] << 4) && b.qs[127] == (L[223] | L[255] << 4),
          "Q4_K hand block: nibble order qs[0]=%02X qs[32]=%02X", b.qs[0], b.qs[32]);
    float y[256];
    dq_q4_K(&b, y, 256);
    CHECK(memcmp(x, y, sizeof x) == 0, "Q4_K hand block: values change");
}

/* ---- error bounds and special blocks ------------------------------------------------- */

static void test_gaussian_error(const qtype *t)
{
    const int64_t n = 256 * 512;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    void *q = malloc((size_t)(n / t->block_elems) * (size_t)t->block_bytes);
    for (int64_t i = 0; i < n; i++)
        x[i] = gaussian();
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    double e = rel_rmse(x, y, n);
    printf("%s: relative RMS error on gaussian data %.3f%% (bound %.2f%%)\n", t->name, 100 * e,
           100 * t->max_rel_rmse);
    CHECK(e < t->max_rel_rmse, "%s: relative RMSE %.4f >= %.4f", t->name, e, t->max_rel_rmse);

    /* scale invariance up to f16 rounding: x * 2^k quantizes to the same levels */
    for (int64_t i = 0; i < n; i++)
        x[i] *= 0.125f;
    float *y2 = malloc((size_t)n * sizeof *y2);
    t->quantize(q, x, n);
    t->dequantize(q, y2, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += y2[i] != y[i] * 0.125f;
    CHECK(bad == 0, "%s: scaling by 1/8 changed %ld values beyond the scale", t->name, (long)bad);
    free(y2);
    free(x);
    free(y);
    free(q);
}

static void test_special_blocks(const qtype *t)
{
    const int64_t n = 256;
    float x[256], y[256];
    uint8_t q[256 / 32 * 34 + 256];

    memset(x, 0, sizeof x); /* all zero: exactly zero back */
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    bool ok = true;
    for (int i = 0; i < n; i++)
        ok &= y[i] == 0.0f;
    CHECK(ok, "%s: zeros do not come back as zeros", t->name);

    for (int i = 0; i < n; i++)
        x[i] = 0.75f; /* constant positive */
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    CHECK(rel_rmse(x, y, n) < 0.01, "%s: constant 0.75 comes back with error %.4f", t->name,
          rel_rmse(x, y, n));

    for (int i = 0; i < n; i++)
        x[i] = -0.3f; /* constant negative */
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    CHECK(rel_rmse(x, y, n) < 0.01, "%s: constant -0.3 comes back with error %.4f", t->name,
          rel_rmse(x, y, n));

    for (int i = 0; i < n; i++)
        x[i] = 1e-6f * gaussian(); /* f16 subnormal scales */
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    ok = true;
    for (int i = 0; i < n; i++)
        ok &= isfinite(y[i]) && fabsf(y[i] - x[i]) < 1e-5f;
    CHECK(ok, "%s: tiny values (f16 subnormal scales) go wrong", t->name);

    for (int i = 0; i < n; i++)
        x[i] = gaussian(); /* one outlier per 32 stays finite */
    for (int i = 5; i < n; i += 32)
        x[i] = 1000.0f;
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    ok = true;
    for (int i = 0; i < n; i++)
        ok &= isfinite(y[i]);
    CHECK(ok && fabsf(y[5] - 1000.0f) < 20.0f, "%s: outlier 1000 came back as %g", t->name, y[5]);
}

/* The kernel table's to_f32 for a quantized type (when present) must match this file. */
static void test_table_dequant(const qtype *t)
{
    const tlm_kernels *k = tlm_kernels_get();
    if (!k->to_f32[t->type]) {
        n_skip++;
        printf("skip: no to_f32 kernel for %s yet\n", t->name);
        return;
    }
    const int64_t n = 256 * 16;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    float *z = malloc((size_t)n * sizeof *z);
    void *q = malloc((size_t)(n / t->block_elems) * (size_t)t->block_bytes);
    for (int64_t i = 0; i < n; i++)
        x[i] = gaussian();
    t->quantize(q, x, n);
    t->dequantize(q, y, n);
    k->to_f32[t->type](z, q, n);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += fabsf(y[i] - z[i]) > 1e-6f * (1.0f + fabsf(y[i]));
    CHECK(bad == 0, "%s: kernel to_f32 (%s) differs from the layout in %ld of %ld values", t->name,
          k->isa, (long)bad, (long)n);
    free(x);
    free(y);
    free(z);
    free(q);
}

/* ---- importance weights (Q4_K, Q5_K, Q6_K) ------------------------------------------- */

/* With an importance matrix that makes a few columns matter 1000 times more than the rest,
 * the error that counts, sum_i imatrix_i (x_i - y_i)^2, must fall against the unweighted
 * quantization of the same rows, for every row set and every K type; NULL must give the
 * reference's bits; all-equal weights must still quantize as well as the bound. */
static void test_imatrix(void)
{
    enum { N = 256 * 8, ROWS = 32 };
    static void (*const qi[3])(void *, const float *, int64_t, const float *) = {
        tlm_quantize_q4_K_imatrix, tlm_quantize_q5_K_imatrix, tlm_quantize_q6_K_imatrix};
    static const qtype *const qt[3] = {&types[2], &types[3], &types[4]};
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y), *w = malloc(N * sizeof *w);
    uint8_t *a = malloc(N), *b = malloc(N);
    for (int k = 0; k < 3; k++) {
        double plain = 0, weighted = 0;
        int worse_rows = 0, null_same = 1;
        for (int r = 0; r < ROWS; r++) {
            for (int i = 0; i < N; i++) {
                x[i] = gaussian();
                w[i] = next_u64() % 16 == 0 ? 1000.0f : 1.0f;
            }
            qt[k]->quantize(a, x, N);
            qi[k](b, x, N, NULL);
            null_same &= memcmp(a, b, (size_t)(N / QK_K * qt[k]->block_bytes)) == 0;
            qt[k]->dequantize(a, y, N);
            double e0 = 0, e1 = 0;
            for (int i = 0; i < N; i++)
                e0 += w[i] * (double)(x[i] - y[i]) * (x[i] - y[i]);
            qi[k](b, x, N, w);
            qt[k]->dequantize(b, y, N);
            for (int i = 0; i < N; i++)
                e1 += w[i] * (double)(x[i] - y[i]) * (x[i] - y[i]);
            plain += e0;
            weighted += e1;
            worse_rows += e1 > e0;
        }
        printf("%s: importance-weighted error with the imatrix %.1f%% of without; %d of %d "
               "rows worse\n",
               qt[k]->name, 100 * weighted / plain, worse_rows, ROWS);
        CHECK(null_same, "%s: a NULL imatrix changes the bits", qt[k]->name);
        CHECK(weighted < 0.8 * plain, "%s: weighted error %.4g not below 80%% of %.4g", qt[k]->name,
              weighted, plain);
        CHECK(worse_rows <= ROWS / 8, "%s: %d of %d rows worse with the imatrix", qt[k]->name,
              worse_rows, ROWS);
        for (int i = 0; i < N; i++) { /* equal weights: the plain bound still holds */
            x[i] = gaussian();
            w[i] = 3.0f;
        }
        qi[k](b, x, N, w);
        qt[k]->dequantize(b, y, N);
        double e = rel_rmse(x, y, N);
        CHECK(e < qt[k]->max_rel_rmse, "%s: equal weights: relative RMSE %.4f >= %.4f", qt[k]->name,
              e, qt[k]->max_rel_rmse);
    }
    free(x);
    free(y);
    free(w);
    free(a);
    free(b);
}

int main(void)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        test_exact_round_trip(&types[i]);
        test_gaussian_error(&types[i]);
        test_special_blocks(&types[i]);
        test_table_dequant(&types[i]);
    }
    test_q4_K_hand_block();
    test_imatrix();
    return finish("quant_ref");
}
