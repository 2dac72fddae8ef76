/* test_quant_matmul.c - the quantized weight types' kernels (kernels/dequant_*.c,
 * kernels/qmatmul_*.c): Q8_0, Q4_0, Q4_K, Q5_K, Q6_K.
 *
 *   - reference to_f32 on hand-built blocks: known scales and levels give known values
 *     (literal scale bytes for the Q4_K / Q5_K 6-bit packing, literal Q6_K bit positions);
 *   - the test's own decoder (written from the GGUF layout, loop by loop as the format
 *     groups its bytes) against reference to_f32 on random blocks: same bits;
 *   - every SIMD to_f32 slot against the reference: same bits;
 *   - reference matmul against a double-precision sum of decoded weights times activations
 *     quantized here by the documented rule (qmatmul_ref.c), within 1e-4 relative;
 *   - every SIMD matmul slot against the reference within float summation error, on odd
 *     row counts, several multiples of the block size, n_tok in {1,2,3,5,8,17,64} and
 *     sizes that cross the kernels' token blocks and packing chunks, with unaligned and
 *     padded weights, unaligned activations and strides; rows outside [r0, r1) untouched;
 *     row splits, sub-ranges, one token at a time and OpenMP row splits give the same bits;
 *   - the row-interleaved (il) layout: rows come back from their groups, and each il slot
 *     gives its ISA's row-slot bits, with the checks above (splits inside a group too), for
 *     every n_tok of a small batch (2 .. 16, the small-batch kernels) as well; the small
 *     batch kernels give the bits of one token at a time through the same ISA's decode.
 * Weight blocks are random bytes (every bit pattern: Q8_0 -128, high scale bits, negative
 * Q6_K scales) with random finite f16 scales. */
#include <omp.h>

#include "isa_tables.h"
#include "quant.h"

/* ---- the types ---------------------------------------------------------------------------- */

typedef struct qtype {
    tlm_dtype type;
    const char *name;
    int block;      /* elements per block */
    int block_size; /* bytes per block */
} qtype;

static const qtype types[] = {
    {TLM_DT_Q8_0, "Q8_0", 32, sizeof(block_q8_0)},  {TLM_DT_Q4_0, "Q4_0", 32, sizeof(block_q4_0)},
    {TLM_DT_Q4_K, "Q4_K", 256, sizeof(block_q4_K)}, {TLM_DT_Q5_K, "Q5_K", 256, sizeof(block_q5_K)},
    {TLM_DT_Q6_K, "Q6_K", 256, sizeof(block_q6_K)},
};

static uint16_t h(float f) { return tlm_f32_to_f16(f); }
static double hd(uint16_t v) { return (double)tlm_f16_to_f32(v); }

/* ---- the test's own decoder: element i of a block as scale_part - min_part ---------------- */

/* Q4_K / Q5_K sub-block j scale and min from the 12 packed bytes: 6 bits each; sub-blocks
 * 0..3 in the low 6 bits of bytes 0..3 (scales) and 4..7 (mins); sub-blocks 4..7 keep their
 * low 4 bits in the nibbles of bytes 8..11 (scale low, min high) and their top 2 bits in
 * the top 2 bits of bytes 0..3 (scales) and 4..7 (mins). */
static void k_scale_min(const uint8_t *q, int j, int *sc, int *m)
{
    if (j < 4) {
        *sc = q[j] & 0x3f;
        *m = q[4 + j] & 0x3f;
    } else {
        *sc = (q[8 + j - 4] & 0x0f) + 16 * (q[j - 4] >> 6);
        *m = (q[8 + j - 4] >> 4) + 16 * (q[4 + j - 4] >> 6);
    }
}

/* Decodes one block into a[i] - b[i] (b is the min part, 0 where there is none), in double. */
static void decode_block(tlm_dtype type, const void *blk, double *a, double *b)
{
    for (int i = 0; i < 256; i++)
        b[i] = 0;
    if (type == TLM_DT_Q8_0) {
        const block_q8_0 *q = blk;
        for (int i = 0; i < 32; i++)
            a[i] = hd(q->d) * q->qs[i];
    } else if (type == TLM_DT_Q4_0) {
        const block_q4_0 *q = blk;
        for (int j = 0; j < 16; j++) {
            a[j] = hd(q->d) * ((q->qs[j] & 0x0f) - 8);
            a[j + 16] = hd(q->d) * ((q->qs[j] >> 4) - 8);
        }
    } else if (type == TLM_DT_Q4_K || type == TLM_DT_Q5_K) {
        const bool five = type == TLM_DT_Q5_K;
        const block_q4_K *q4 = blk;
        const block_q5_K *q5 = blk;
        const uint8_t *scales = five ? q5->scales : q4->scales, *qs = five ? q5->qs : q4->qs;
        double d = hd(five ? q5->d : q4->d), dmin = hd(five ? q5->dmin : q4->dmin);
        for (int c = 0; c < 4; c++) { /* 64 elements per 32 bytes of qs */
            int sc0, m0, sc1, m1;
            k_scale_min(scales, 2 * c, &sc0, &m0);
            k_scale_min(scales, 2 * c + 1, &sc1, &m1);
            for (int l = 0; l < 32; l++) {
                int lo = qs[32 * c + l] & 0x0f, hi = qs[32 * c + l] >> 4;
                if (five) {
                    lo += 16 * ((q5->qh[l] >> (2 * c)) & 1);
                    hi += 16 * ((q5->qh[l] >> (2 * c + 1)) & 1);
                }
                a[64 * c + l] = d * sc0 * lo;
                b[64 * c + l] = dmin * m0;
                a[64 * c + 32 + l] = d * sc1 * hi;
                b[64 * c + 32 + l] = dmin * m1;
            }
        }
    } else {
        const block_q6_K *q = blk;
        double d = hd(q->d);
        for (int half = 0; half < 2; half++) {
            const uint8_t *ql = q->ql + 64 * half, *qh = q->qh + 32 * half;
            const int8_t *sc = q->scales + 8 * half;
            double *o = a + 128 * half;
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = (ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4;
                int q2 = (ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4;
                int q3 = (ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4;
                int q4 = (ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4;
                o[l] = d * sc[is + 0] * (q1 - 32);
                o[l + 32] = d * sc[is + 2] * (q2 - 32);
                o[l + 64] = d * sc[is + 4] * (q3 - 32);
                o[l + 96] = d * sc[is + 6] * (q4 - 32);
            }
        }
    }
}

/* ---- hand-built blocks --------------------------------------------------------------------- */

static void check_values(const char *what, const float *got, const double *want, int n)
{
    int bad = -1;
    for (int i = 0; i < n && bad < 0; i++)
        if ((double)got[i] != want[i]) bad = i;
    check(bad < 0, "%s: element %d = %.9g, expected %.9g", what, bad, bad < 0 ? 0.0 : got[bad],
          bad < 0 ? 0.0 : want[bad]);
}

static void test_hand_built(const tlm_kernels *ref)
{
    float out[256];
    double want[256];

    block_q8_0 q8 = {.d = h(0.5f)};
    for (int i = 0; i < 32; i++)
        q8.qs[i] = (int8_t)(i * 9 - 128); /* -128 .. 151 wraps: all */
    ref->to_f32[TLM_DT_Q8_0](out, &q8, 32);
    for (int i = 0; i < 32; i++)
        want[i] = 0.5 * (int8_t)(i * 9 - 128);
    check_values("Q8_0 hand-built", out, want, 32);

    block_q4_0 q4 = {.d = h(2.0f)};
    for (int j = 0; j < 16; j++)
        q4.qs[j] = (uint8_t)(j | (15 - j) << 4);
    ref->to_f32[TLM_DT_Q4_0](out, &q4, 32);
    for (int j = 0; j < 16; j++) {
        want[j] = 2.0 * (j - 8);             /* element j: low nibble of byte j */
        want[j + 16] = 2.0 * ((15 - j) - 8); /* element j + 16: its high nibble */
    }
    check_values("Q4_0 hand-built", out, want, 32);

    /* Q4_K scale bytes worked by hand:
     *   s 0..3: sc = bytes 0..3 & 63 = 1, 2, 3, 63; m = bytes 4..7 & 63 = 0, 5, 10, 62
     *   s 4: sc = (0x21 & 15) | (0xc1 >> 6) << 4 = 1 | 48 = 49; m = (0x21 >> 4) | (0x80 >> 6) << 4
     * = 34 s 5: sc = 3 | (0x42 >> 6) << 4 = 19; m = 4 | (0x05 >> 6) << 4 = 4 s 6: sc = 5 | 0 = 5;
     * m = 6 | (0x0a >> 6) << 4 = 6 s 7: sc = 7 | (0x3f >> 6) << 4 = 7;   m = 8 | (0xfe >> 6) << 4 =
     * 56 */
    static const uint8_t scales[12] = {0xc1, 0x42, 0x03, 0x3f, 0x80, 0x05,
                                       0x0a, 0xfe, 0x21, 0x43, 0x65, 0x87};
    static const int sc_want[8] = {1, 2, 3, 63, 49, 19, 5, 7},
                     m_want[8] = {0, 5, 10, 62, 34, 4, 6, 56};
    block_q4_K k4 = {.d = h(1.0f), .dmin = h(0.5f)};
    memcpy(k4.scales, scales, 12);
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++)
            k4.qs[32 * j + l] = (uint8_t)((l & 15) | ((l + j) & 15) << 4);
    ref->to_f32[TLM_DT_Q4_K](out, &k4, 256);
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++) {
            int s0 = 2 * j, s1 = 2 * j + 1; /* element 64j + l: low nibble; + 32: high */
            want[64 * j + l] = 1.0 * sc_want[s0] * (l & 15) - 0.5 * m_want[s0];
            want[64 * j + 32 + l] = 1.0 * sc_want[s1] * ((l + j) & 15) - 0.5 * m_want[s1];
        }
    check_values("Q4_K hand-built", out, want, 256);

    /* Q5_K: the same scales and nibbles; the fifth bit of element 64j + l is bit 2j of qh[l],
     * of element 64j + 32 + l bit 2j + 1. qh[l] = 0x55 (bits 0, 2, 4, 6) for even l, 0xaa
     * for odd l: the low halves of every chunk get +16 on even l, the high halves on odd l. */
    block_q5_K k5 = {.d = h(1.0f), .dmin = h(0.5f)};
    memcpy(k5.scales, scales, 12);
    memcpy(k5.qs, k4.qs, sizeof k5.qs);
    for (int l = 0; l < 32; l++)
        k5.qh[l] = l % 2 ? 0xaa : 0x55;
    ref->to_f32[TLM_DT_Q5_K](out, &k5, 256);
    for (int j = 0; j < 4; j++)
        for (int l = 0; l < 32; l++) {
            int s0 = 2 * j, s1 = 2 * j + 1;
            want[64 * j + l] = 1.0 * sc_want[s0] * ((l & 15) + (l % 2 ? 0 : 16)) - 0.5 * m_want[s0];
            want[64 * j + 32 + l] =
                1.0 * sc_want[s1] * (((l + j) & 15) + (l % 2 ? 16 : 0)) - 0.5 * m_want[s1];
        }
    check_values("Q5_K hand-built", out, want, 256);

    /* Q6_K: d = 0.25, scales[s] = s - 8 (negative ones too). ql[0] = 0x21, ql[32] = 0x43,
     * qh[0] = 0xe4 = 11 10 01 00 (bits 7..0): level of element 0 = 0x1 | 0 << 4 = 1,
     * element 32 = 0x3 | 1 << 4 = 19, element 64 = 0x2 | 2 << 4 = 34, element 96 =
     * 0x4 | 3 << 4 = 52. Second half: ql[64] = 0x0f, ql[96] = 0xf0, qh[32] = 0x1b = 00 01 10 11:
     * element 128 = 0xf | 3 << 4 = 63, 160 = 0x0 | 2 << 4 = 32, 192 = 0x0 | 1 << 4 = 16,
     * 224 = 0xf | 0 = 15. Every other byte 0: level 0. */
    block_q6_K k6;
    memset(&k6, 0, sizeof k6);
    k6.d = h(0.25f);
    for (int s = 0; s < 16; s++)
        k6.scales[s] = (int8_t)(s - 8);
    k6.ql[0] = 0x21, k6.ql[32] = 0x43, k6.qh[0] = 0xe4;
    k6.ql[64] = 0x0f, k6.ql[96] = 0xf0, k6.qh[32] = 0x1b;
    ref->to_f32[TLM_DT_Q6_K](out, &k6, 256);
    for (int i = 0; i < 256; i++)
        want[i] = 0.25 * (i / 16 - 8) * (0 - 32);
    static const int at[8] = {0, 32, 64, 96, 128, 160, 192, 224};
    static const int level[8] = {1, 19, 34, 52, 63, 32, 16, 15};
    for (int k = 0; k < 8; k++)
        want[at[k]] = 0.25 * (at[k] / 16 - 8) * (level[k] - 32);
    check_values("Q6_K hand-built", out, want, 256);
}

/* ---- random blocks ------------------------------------------------------------------------ */

/* A random finite f16 of magnitude in [lo, hi), random sign when `sign`. */
static uint16_t rand_f16(float lo, float hi, bool sign)
{
    float v = rng_float(lo, hi);
    if (sign && (rng_next() & 1)) v = -v;
    return h(v);
}

/* n_blocks random blocks at dst: random bytes, then finite scales. */
static void fill_blocks(const qtype *qt, void *dst, int64_t n_blocks)
{
    unsigned char *p = dst;
    for (int64_t i = 0; i < n_blocks * qt->block_size; i++)
        p[i] = (unsigned char)rng_next();
    for (int64_t k = 0; k < n_blocks; k++) {
        unsigned char *b = p + k * qt->block_size;
        uint16_t d = rand_f16(0.001f, 0.05f, true), dmin = rand_f16(0.001f, 0.05f, true);
        switch (qt->type) {
        case TLM_DT_Q8_0:
            memcpy(b + offsetof(block_q8_0, d), &d, 2);
            break;
        case TLM_DT_Q4_0:
            memcpy(b + offsetof(block_q4_0, d), &d, 2);
            break;
        case TLM_DT_Q4_K:
            memcpy(b + offsetof(block_q4_K, d), &d, 2);
            memcpy(b + offsetof(block_q4_K, dmin), &dmin, 2);
            break;
        case TLM_DT_Q5_K:
            memcpy(b + offsetof(block_q5_K, d), &d, 2);
            memcpy(b + offsetof(block_q5_K, dmin), &dmin, 2);
            break;
        default:
            memcpy(b + offsetof(block_q6_K, d), &d, 2);
            break;
        }
    }
}

static void test_decode_random(const tlm_kernels *ref, const isa_table simd[N_SIMD])
{
    enum { N_BLOCKS = 97 };
    for (size_t ti = 0; ti < COUNT(types); ti++) {
        const qtype *qt = &types[ti];
        int64_t n = (int64_t)N_BLOCKS * qt->block;
        unsigned char *blocks = malloc((size_t)(N_BLOCKS * qt->block_size + 2));
        fill_blocks(qt, blocks + 2, N_BLOCKS); /* source 2 bytes past an alignment boundary */
        float *want = buf_new(n, 0), *got = buf_new(n, 3);
        ref->to_f32[qt->type](want, blocks + 2, n);

        double a[256], b[256];
        int bad = -1;
        for (int64_t k = 0; k < N_BLOCKS && bad < 0; k++) {
            decode_block(qt->type, blocks + 2 + k * qt->block_size, a, b);
            for (int i = 0; i < qt->block && bad < 0; i++) /* float rounding: a few ulp */
                if (fabs(want[k * qt->block + i] - (a[i] - b[i])) >
                    4 * FLT_EPSILON * (fabs(a[i]) + fabs(b[i])))
                    bad = (int)(k * qt->block + i);
        }
        check(bad < 0, "%s ref to_f32 vs the test's decoder: element %d", qt->name, bad);

        for (int l = 0; l < N_SIMD; l++) {
            if (!simd[l].available) {
                n_skip++;
                continue;
            }
            simd[l].k.to_f32[qt->type](got, blocks + 2, n);
            check(memcmp(got, want, (size_t)n * sizeof(float)) == 0,
                  "%s to_f32 %s differs from the reference", qt->name, simd[l].name);
        }
        free(blocks);
        buf_free(want);
        buf_free(got);
    }
}

/* ---- matmul ------------------------------------------------------------------------------- */

typedef struct shape {
    int64_t n_in, rows, n_tok;
} shape;

typedef struct problem {
    const qtype *qt;
    shape s;
    unsigned char *mem;
    const void *w; /* 2 bytes past an alignment boundary, rows padded */
    uint64_t w_row_bytes;
    float *x;
    int64_t ldx, ldy;
    double *exact, *mag; /* per output: the sum in double, and sum of |parts| */
} problem;

static const uint32_t SENTINEL = 0x7fc0dead;

/* Activation block quantized by the documented rule (qmatmul_ref.c), dequantized. */
static void act_dequant(const float *x, int n, double *out)
{
    float amax = 0.0f;
    for (int i = 0; i < n; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    float id = amax >= 0x1p-96f ? 127.0f / amax : 0.0f, d = amax / 127.0f;
    for (int i = 0; i < n; i++)
        out[i] = (double)d * (double)lrintf(x[i] * id);
}

static void problem_new(problem *p, const qtype *qt, shape s)
{
    p->qt = qt;
    p->s = s;
    int64_t n_blocks = s.n_in / qt->block;
    /* rows padded and not 4-byte aligned; blocks keep the 2-byte alignment GGUF gives them */
    p->w_row_bytes = (uint64_t)(n_blocks * qt->block_size + 6);
    p->mem = malloc(p->w_row_bytes * (uint64_t)s.rows + 2);
    p->w = p->mem + 2;
    for (int64_t r = 0; r < s.rows; r++)
        fill_blocks(qt, p->mem + 2 + (uint64_t)r * p->w_row_bytes, n_blocks);
    p->ldx = s.n_in + 5;
    p->ldy = s.rows + 7;
    p->x = buf_new(s.n_tok * p->ldx, 3);
    fill_uniform(p->x, s.n_tok * p->ldx, -1.0f, 1.0f);
    /* edge blocks in token 0: an outlier, all zeros, too small to scale */
    if (s.n_in >= 3 * qt->block) {
        p->x[5] = 40.0f;
        for (int i = 0; i < qt->block; i++)
            p->x[qt->block + i] = 0.0f;
        for (int i = 0; i < qt->block; i++)
            p->x[2 * qt->block + i] = 1e-30f * (float)(i - 7);
    }

    p->exact = malloc((size_t)(s.rows * s.n_tok) * sizeof(double));
    p->mag = malloc((size_t)(s.rows * s.n_tok) * sizeof(double));
    double *xd = malloc((size_t)s.n_in * sizeof(double));
    double a[256], b[256];
    for (int64_t t = 0; t < s.n_tok; t++) {
        for (int64_t k = 0; k < n_blocks; k++)
            act_dequant(p->x + t * p->ldx + k * qt->block, qt->block, xd + k * qt->block);
        for (int64_t r = 0; r < s.rows; r++) {
            double sum = 0, mag = 0;
            for (int64_t k = 0; k < n_blocks; k++) {
                decode_block(qt->type, (const char *)p->w + r * p->w_row_bytes + k * qt->block_size,
                             a, b);
                for (int i = 0; i < qt->block; i++) {
                    sum += (a[i] - b[i]) * xd[k * qt->block + i];
                    mag += (fabs(a[i]) + fabs(b[i])) * fabs(xd[k * qt->block + i]);
                }
            }
            p->exact[t * s.rows + r] = sum;
            p->mag[t * s.rows + r] = mag;
        }
    }
    free(xd);
}

static void problem_free(problem *p)
{
    free(p->mem);
    buf_free(p->x);
    free(p->exact);
    free(p->mag);
}

static float *y_new(const problem *p)
{
    int64_t n = p->s.n_tok * p->ldy;
    float *y = buf_new(n, 1);
    for (int64_t i = 0; i < n; i++)
        memcpy(&y[i], &SENTINEL, 4);
    return y;
}

static bool is_sentinel(float v) { return memcmp(&v, &SENTINEL, 4) == 0; }

static void run(tlm_matmul_fn f, const problem *p, float *y, int64_t r0, int64_t r1)
{
    f(y, p->ldy, p->w, p->w_row_bytes, p->x, p->ldx, p->s.n_tok, p->s.n_in, r0, r1);
}

/* y holds rows [r0, r1) near `near` (or the exact sums when NULL) within rel * mag, and
 * sentinels elsewhere. */
static bool y_ok(const problem *p, const float *y, const float *near, int64_t r0, int64_t r1,
                 double rel, char *why, size_t why_size)
{
    for (int64_t t = 0; t < p->s.n_tok; t++)
        for (int64_t c = 0; c < p->ldy; c++) {
            float v = y[t * p->ldy + c];
            if (c < r0 || c >= r1) {
                if (is_sentinel(v)) continue;
                snprintf(why, why_size, "y[%lld][%lld] written outside rows [%lld, %lld)",
                         (long long)t, (long long)c, (long long)r0, (long long)r1);
                return false;
            }
            double e = near ? near[t * p->ldy + c] : p->exact[t * p->s.rows + c];
            double tol = rel * p->mag[t * p->s.rows + c] + 1e-30;
            if (!(fabs(v - e) <= tol)) {
                snprintf(why, why_size, "y[%lld][%lld] = %.9g, expected %.9g, tolerance %.3g",
                         (long long)t, (long long)c, v, e, tol);
                return false;
            }
        }
    return true;
}

static bool same_bits(const problem *p, const float *a, const float *b)
{
    return memcmp(a, b, (size_t)(p->s.n_tok * p->ldy) * sizeof(float)) == 0;
}

enum { CHECKS_PER_SLOT = 6 };

static void check_slot(const char *isa, tlm_matmul_fn f, const problem *p, const float *ref_y)
{
    const shape s = p->s;
    char what[96], why[160] = "";
    snprintf(what, sizeof what, "%s %s n_in %lld rows %lld n_tok %lld", isa, p->qt->name,
             (long long)s.n_in, (long long)s.rows, (long long)s.n_tok);
    /* the SIMD kernels fuse each unit's multiply-add where the reference rounds twice; both
     * add the units in the same order, so they differ by a few roundings per unit */
    const double n_units = (double)(s.n_in / p->qt->block);
    const double rel = ref_y ? 4.0 * (n_units + 4.0) * FLT_EPSILON : 1e-4;

    float *full = y_new(p), *split = y_new(p), *sub = y_new(p), *one = y_new(p);
    run(f, p, full, 0, s.rows);
    if (ref_y)
        check(y_ok(p, full, ref_y, 0, s.rows, rel, why, sizeof why), "%s: vs ref: %s", what, why);
    else
        check(y_ok(p, full, NULL, 0, s.rows, rel, why, sizeof why), "%s: vs double: %s", what, why);

    int64_t cut = s.rows / 3 + 1 < s.rows ? s.rows / 3 + 1 : s.rows;
    run(f, p, split, cut, s.rows);
    run(f, p, split, 0, cut);
    check(same_bits(p, full, split), "%s: rows [0, %lld) + [%lld, rows) differ from one call", what,
          (long long)cut, (long long)cut);

    int64_t lo = s.rows >= 3 ? 1 : 0, hi = s.rows >= 3 ? s.rows - 1 : s.rows;
    run(f, p, sub, lo, hi);
    bool ok = true;
    for (int64_t t = 0; t < s.n_tok; t++)
        for (int64_t c = 0; c < p->ldy; c++) {
            float v = sub[t * p->ldy + c];
            ok = ok &&
                 (c >= lo && c < hi ? memcmp(&v, &full[t * p->ldy + c], 4) == 0 : is_sentinel(v));
        }
    check(ok, "%s: rows [%lld, %lld) differ from the full range or wrote outside", what,
          (long long)lo, (long long)hi);

    for (int64_t t = 0; t < s.n_tok; t++)
        f(one + t * p->ldy, p->ldy, p->w, p->w_row_bytes, p->x + t * p->ldx, p->ldx, 1, s.n_in, 0,
          s.rows);
    check(same_bits(p, full, one), "%s: one token at a time differs from the batch", what);

    /* nothing was left unwritten */
    ok = true;
    for (int64_t t = 0; t < s.n_tok; t++)
        for (int64_t c = 0; c < s.rows; c++)
            ok = ok && !is_sentinel(full[t * p->ldy + c]);
    check(ok, "%s: an output was not written", what);

    buf_free(full);
    buf_free(split);
    buf_free(sub);
    buf_free(one);
}

static void test_problem(const tlm_kernels *ref, const isa_table simd[N_SIMD], const qtype *qt,
                         shape s)
{
    problem p;
    problem_new(&p, qt, s);
    check_slot("ref", ref->matmul[qt->type], &p, NULL);
    float *ref_y = y_new(&p);
    run(ref->matmul[qt->type], &p, ref_y, 0, s.rows);
    for (int i = 0; i < N_SIMD; i++) {
        if (simd[i].available)
            check_slot(simd[i].name, simd[i].k.matmul[qt->type], &p, ref_y);
        else
            n_skip += CHECKS_PER_SLOT - 1;
    }
    buf_free(ref_y);
    problem_free(&p);
}

/* The rows of a matrix (rb bytes each, at plain) grouped in `layout` into grouped; whether
 * every row comes back from its group. */
static bool group_rows(int layout, const qtype *qt, unsigned char *grouped,
                       const unsigned char *plain, uint64_t rb, int64_t rows)
{
    const int n = tlm_il_rows(layout, qt->type);
    for (int64_t g = 0; g < rows / n; g++)
        tlm_il_group(layout, qt->type, grouped + g * n * rb, plain + g * n * rb, rb);
    bool back = true;
    unsigned char *row = malloc(rb + 1);
    for (int64_t r = 0; r < rows; r++) {
        tlm_il_row(layout, qt->type, row, grouped + (r / n) * n * rb, rb, (int)(r % n));
        back = back && memcmp(row, plain + r * rb, rb) == 0;
    }
    free(row);
    return back;
}

/* The row-interleaved layouts (kernels.h, il), for the ISAs that have their kernels: a whole
 * matrix grouped by tlm_il_group in the ISA's layout gives back each row by tlm_il_row, and
 * the il slot on it gives the same bits as the same ISA's row slot on the plain rows (splits
 * inside a group, one token at a time, rows outside the range untouched: check_slot). */
static void test_il(const tlm_kernels *ref, const isa_table simd[N_SIMD], const qtype *qt, shape s)
{
    problem p;
    problem_new(&p, qt, s);
    const uint64_t rb = (uint64_t)(s.n_in / qt->block * qt->block_size);
    unsigned char *plain = malloc(rb * (uint64_t)s.rows + 2);
    unsigned char *grouped = malloc(rb * (uint64_t)s.rows + 2);
    for (int64_t r = 0; r < s.rows; r++)
        memcpy(plain + 2 + r * rb, (const char *)p.w + r * p.w_row_bytes, rb);
    check(group_rows(TLM_IL_STD, qt, grouped + 2, plain + 2, rb, s.rows),
          "%s il n_in %lld rows %lld: rows do not come back from their groups", qt->name,
          (long long)s.n_in, (long long)s.rows);

    float *ref_y = y_new(&p);
    run(ref->matmul[qt->type], &p, ref_y, 0, s.rows);
    for (int i = 0; i < N_SIMD; i++) {
        /* not on this CPU, or no interleaved kernel at this level (kernels.h: NULL, and the
         * loader keeps the rows) */
        if (!simd[i].available || !simd[i].k.matmul_il[qt->type]) {
            n_skip += CHECKS_PER_SLOT + 1;
            continue;
        }
        tlm_matmul_fn il = simd[i].k.matmul_il[qt->type];
        const int layout = simd[i].k.il_layout[qt->type];
        check(group_rows(layout, qt, grouped + 2, plain + 2, rb, s.rows),
              "%s %s il (layout %d) n_in %lld rows %lld: rows do not come back from their groups",
              simd[i].name, qt->name, layout, (long long)s.n_in, (long long)s.rows);
        float *rows_y = y_new(&p), *il_y = y_new(&p);
        run(simd[i].k.matmul[qt->type], &p, rows_y, 0, s.rows);
        problem q = p;
        q.w = grouped + 2;
        q.w_row_bytes = rb;
        run(il, &q, il_y, 0, s.rows);
        check(same_bits(&p, rows_y, il_y),
              "%s %s il n_in %lld rows %lld n_tok %lld: differs "
              "from the row kernel",
              simd[i].name, qt->name, (long long)s.n_in, (long long)s.rows, (long long)s.n_tok);
        char name[32];
        snprintf(name, sizeof name, "%s il", simd[i].name);
        check_slot(name, il, &q, ref_y);
        buf_free(rows_y);
        buf_free(il_y);
    }
    buf_free(ref_y);
    free(plain);
    free(grouped);
    problem_free(&p);
}

/* As the engine calls it: OpenMP threads take contiguous ranges of rows aligned to 16. */
static void test_threads(const tlm_kernels *k, const char *isa, const qtype *qt, shape s)
{
    problem p;
    problem_new(&p, qt, s);
    float *one = y_new(&p), *many = y_new(&p);
    run(k->matmul[qt->type], &p, one, 0, s.rows);
    for (int n_threads = 2; n_threads <= 3; n_threads++) {
#pragma omp parallel num_threads(n_threads)
        {
            int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
            int64_t chunk = ((s.rows + nt - 1) / nt + 15) & ~(int64_t)15;
            int64_t r0 = t * chunk, r1 = r0 + chunk < s.rows ? r0 + chunk : s.rows;
            if (r0 < r1) run(k->matmul[qt->type], &p, many, r0, r1);
        }
        check(same_bits(&p, one, many), "%s %s rows %lld n_tok %lld: %d threads differ", isa,
              qt->name, (long long)s.rows, (long long)s.n_tok, n_threads);
    }
    buf_free(one);
    buf_free(many);
    problem_free(&p);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);

    test_hand_built(&ref);
    test_decode_random(&ref, simd);

    static const int64_t blocks[] = {0, 1, 2, 3, 8}; /* n_in = blocks * block size */
    static const int64_t rows[] = {1, 3, 16, 17, 37};
    static const int64_t n_toks[] = {1, 2, 3, 5, 8, 17, 64};
    for (size_t ti = 0; ti < COUNT(types); ti++) {
        const qtype *qt = &types[ti];
        for (size_t a = 0; a < COUNT(blocks); a++)
            for (size_t b = 0; b < COUNT(rows); b++)
                for (size_t c = 0; c < COUNT(n_toks); c++)
                    test_problem(&ref, simd, qt,
                                 (shape){blocks[a] * qt->block, rows[b], n_toks[c]});
        /* past the reference's 4096-element chunks and the kernels' packing chunks (42 units
         * of 32, 4 of 256), token blocks (128) and activation ranges (about 220 KB) */
        const shape large[] = {
            {qt->block * 129, 19, 3}, {qt->block * 17, 33, 130}, {2048, 5, 131}, {5632, 17, 1}};
        for (size_t l = 0; l < COUNT(large); l++)
            test_problem(&ref, simd, qt, large[l]);
    }

    for (size_t ti = 0; ti < COUNT(types); ti++) {
        const int64_t b = types[ti].block;
        const int64_t il_in[] = {0, b, 2 * b, 2048};
        static const int64_t il_rows[] = {16, 48, 112};
        static const int64_t il_tok[] = {1, 2, 5, 17, 131};
        for (size_t a = 0; a < COUNT(il_in); a++)
            for (size_t bb = 0; bb < COUNT(il_rows); bb++)
                for (size_t c = 0; c < COUNT(il_tok); c++)
                    test_il(&ref, simd, &types[ti], (shape){il_in[a], il_rows[bb], il_tok[c]});
        test_il(&ref, simd, &types[ti], (shape){b * 129, 16, 3}); /* past the packing chunks */
    }

    /* Small batches (several sequences' decode: n_tok 2 .. 16), where the il slots of Q8_0 and
     * Q4_0, Q4_K, Q5_K and Q6_K (AVX2 and VNNI) stream each group once for all tokens
     * (passes of 4 or 8 tokens, k in chunks of 45 or 85 units, 10, 8 or 7 super-blocks): every
     * count, k within one chunk, one unit past a chunk (Q8_0's 46 units, Q6_K's 8 super-blocks) and
     * across several ending inside one, one group and three (splits inside a group and ragged ends
     * come from check_slot). */
    for (size_t ti = 0; ti < COUNT(types); ti++) {
        const int64_t b = types[ti].block;
        const int64_t sb_in[] = {2 * b, b == 32 ? 46 * b : 8 * b, b == 32 ? 129 * b : 17 * b};
        static const int64_t sb_rows[] = {16, 48};
        for (size_t a = 0; a < COUNT(sb_in); a++)
            for (size_t bb = 0; bb < COUNT(sb_rows); bb++)
                for (int64_t nt = 2; nt <= 16; nt++)
                    test_il(&ref, simd, &types[ti], (shape){sb_in[a], sb_rows[bb], nt});
    }

    for (size_t ti = 0; ti < COUNT(types); ti++) {
        const shape threaded[] = {{2048, 100, 1}, {2048, 100, 37}, {types[ti].block * 3, 61, 5}};
        for (size_t i = 0; i < COUNT(threaded); i++) {
            test_threads(&ref, "ref", &types[ti], threaded[i]);
            for (int l = 0; l < N_SIMD; l++) {
                if (simd[l].available)
                    test_threads(&simd[l].k, simd[l].name, &types[ti], threaded[i]);
                else
                    n_skip += 2;
            }
        }
    }
    return finish("quant_matmul");
}
