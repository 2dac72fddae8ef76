/* test_quant_b32.c - the blocks of 32 (kernels/quant_b32.h): Q4_1, Q5_0, Q5_1, IQ4_NL.
 *
 *   - reference matmul against a double-precision sum of the reference to_f32's weights times
 *     activations quantized here by the rule qmatmul_b32_ref.c states (1e-5 relative);
 *   - every SIMD matmul slot against the reference: the same bits, on odd row counts, row
 *     lengths that cross the kernels' chunks, token counts that cross their token blocks,
 *     unaligned weights (2-byte aligned, as GGUF may store them), unaligned activations,
 *     strides, sub-ranges of rows (rows outside [r0, r1) untouched); every token count of a
 *     small batch (2 .. 16, the gemm kernels: passes of 4 or 8 tokens, k in chunks) and 17;
 *   - the small-batch contract (qmatmul_blocked.h): on rows and on groups, the first n tokens
 *     of a prefill of 21 (packed tiles) are bit for bit those n tokens as one small batch
 *     (n = 2 .. 16) and each token alone (decode);
 *   - quantizers: values a block can hold exactly come back exactly; gaussian rows come back
 *     within a relative RMS error per type (measured values printed); zero blocks stay zero.
 * to_f32 is checked bit for bit against a NumPy reference written from ggml's block
 * definitions by tests/test_quant_b32.py, through this program's dump mode:
 *   test_quant_b32 --to-f32 TYPE_ID < blocks > floats
 * Weight blocks are random bytes (every code, every fifth bit) with random finite f16 scales. */
#include <stdio.h>

#include "isa_tables.h"
#include "quant.h"

typedef struct qtype {
    tlm_dtype type;
    const char *name;
    int bytes;       /* per block of 32 */
    bool has_min;    /* Q4_1, Q5_1 */
    double max_rmse; /* quantizer bound on gaussian rows (relative RMS) */
} qtype;

static const qtype types[] = {
    {TLM_DT_Q4_1, "Q4_1", sizeof(block_q4_1), true, 0.10},
    {TLM_DT_Q5_0, "Q5_0", sizeof(block_q5_0), false, 0.06},
    {TLM_DT_Q5_1, "Q5_1", sizeof(block_q5_1), true, 0.05},
    {TLM_DT_IQ4_NL, "IQ4_NL", sizeof(block_iq4_nl), false, 0.10},
};

static void quantize(const qtype *t, void *dst, const float *src, int64_t n)
{
    switch (t->type) {
    case TLM_DT_Q4_1:
        tlm_quantize_q4_1_ref(dst, src, n);
        break;
    case TLM_DT_Q5_0:
        tlm_quantize_q5_0_ref(dst, src, n);
        break;
    case TLM_DT_Q5_1:
        tlm_quantize_q5_1_ref(dst, src, n);
        break;
    default:
        tlm_quantize_iq4_nl_ref(dst, src, n, NULL);
        break;
    }
}

/* n_blk random blocks at p: random bytes, then finite f16 scales (and mins) of moderate size. */
static void random_blocks(const qtype *t, uint8_t *p, int64_t n_blk)
{
    for (int64_t b = 0; b < n_blk; b++, p += t->bytes) {
        for (int i = 0; i < t->bytes; i++)
            p[i] = (uint8_t)rng_next();
        uint16_t d = tlm_f32_to_f16(rng_float(-0.02f, 0.02f));
        memcpy(p, &d, 2);
        if (t->has_min) {
            uint16_t m = tlm_f32_to_f16(rng_float(-0.2f, 0.2f));
            memcpy(p + 2, &m, 2);
        }
    }
}

/* ---- the reference against a double sum ------------------------------------------------- */

static void check_ref_sum(const qtype *t, const tlm_kernels *ref)
{
    enum { ROWS = 5, N = 320 };
    uint8_t w[ROWS * N / 32 * 24];
    float x[N], y[ROWS], wf[N];
    random_blocks(t, w, ROWS * N / 32);
    fill_uniform(x, N, -3.0f, 3.0f);
    ref->matmul[t->type](y, ROWS, w, (uint64_t)(N / 32 * t->bytes), x, N, 1, N, 0, ROWS);
    for (int r = 0; r < ROWS; r++) {
        ref->to_f32[t->type](wf, w + r * (N / 32) * t->bytes, N);
        double sum = 0, mag = 0;
        for (int b = 0; b < N / 32; b++) { /* activations quantized by the stated rule */
            float amax = 0;
            for (int i = 0; i < 32; i++)
                amax = fmaxf(amax, fabsf(x[32 * b + i]));
            const float id = 127.0f / amax, dx = amax / 127.0f;
            for (int i = 0; i < 32; i++) {
                const double q = (double)lrintf(x[32 * b + i] * id) * dx;
                sum += (double)wf[32 * b + i] * q;
                mag += fabs((double)wf[32 * b + i] * q);
            }
        }
        CHECK(fabs((double)y[r] - sum) <= 1e-5 * mag + 1e-30, "%s ref row %d: %g vs double %g",
              t->name, r, (double)y[r], sum);
    }
}

/* ---- every SIMD slot against the reference ---------------------------------------------- */

/* One matmul problem: rows of random blocks (row bytes padded, 2-byte aligned as GGUF may
 * store them), activations with an outlier, a zero block and a block too small to scale. */
typedef struct problem {
    const qtype *t;
    int64_t n_in, n_tok, rows, ldx, ldy;
    uint64_t rb;
    uint8_t *mem, *w;
    float *x;
    double *mag; /* [t][r]: sum over i of (|d l_i| + |m|) |xq_i|, for the tolerance */
} problem;

static const float SENTINEL = -7.0f;

/* Dequantized activations of one block by the rule qmatmul_b32_ref.c states. */
static void act_block(const float *x, double *xq)
{
    float amax = 0;
    for (int i = 0; i < 32; i++)
        amax = fmaxf(amax, fabsf(x[i]));
    const float id = amax >= 0x1p-96f ? 127.0f / amax : 0.0f, dx = amax / 127.0f;
    for (int i = 0; i < 32; i++)
        xq[i] = (double)lrintf(x[i] * id) * dx;
}

static void problem_new(problem *p, const qtype *t, int64_t n_in, int64_t n_tok, int64_t rows)
{
    *p = (problem){t, n_in, n_tok, rows, n_in + 3, rows + 2, 0, NULL, NULL, NULL, NULL};
    p->rb = (uint64_t)(n_in / 32 * t->bytes) + 2;
    p->mem = malloc(p->rb * (uint64_t)rows + 2);
    p->w = p->mem + 2;
    for (int64_t r = 0; r < rows; r++)
        random_blocks(t, p->w + (uint64_t)r * p->rb, n_in / 32);
    p->x = buf_new(p->ldx * n_tok, 1);
    fill_uniform(p->x, p->ldx * n_tok, -2.0f, 2.0f);
    if (n_in >= 96) {
        p->x[5] = 40.0f;
        for (int i = 0; i < 32; i++) {
            p->x[32 + i] = 0.0f;
            p->x[64 + i] = 1e-30f * (float)(i - 7);
        }
    }
    p->mag = malloc((size_t)(n_tok * rows + 1) * sizeof(double));
    float *wf = malloc((size_t)(n_in + 1) * sizeof(float));
    double xq[32];
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = p->w + (uint64_t)r * p->rb;
        tlm_kernels ref;
        tlm_kernels_init_ref(&ref);
        ref.to_f32[t->type](wf, row, n_in);
        for (int64_t tk = 0; tk < n_tok; tk++) {
            double mag = 0;
            for (int64_t b = 0; b < n_in / 32; b++) {
                uint16_t mh = 0;
                if (t->has_min) memcpy(&mh, row + b * t->bytes + 2, 2);
                const double m = t->has_min ? fabs((double)tlm_f16_to_f32(mh)) : 0.0;
                act_block(p->x + tk * p->ldx + 32 * b, xq);
                for (int i = 0; i < 32; i++)
                    mag +=
                        (fabs((double)wf[32 * b + i] - (t->has_min ? tlm_f16_to_f32(mh) : 0)) + m) *
                        fabs(xq[i]);
            }
            p->mag[tk * rows + r] = mag;
        }
    }
    free(wf);
}

static void problem_free(problem *p)
{
    free(p->mem);
    buf_free(p->x);
    free(p->mag);
}

static float *y_new(const problem *p)
{
    float *y = buf_new(p->ldy * p->n_tok, 3);
    for (int64_t i = 0; i < p->ldy * p->n_tok; i++)
        y[i] = SENTINEL;
    return y;
}

static void run(tlm_matmul_fn f, const problem *p, const uint8_t *w, float *y, int64_t r0,
                int64_t r1)
{
    f(y, p->ldy, w, p->rb, p->x, p->ldx, p->n_tok, p->n_in, r0, r1);
}

/* The SIMD kernels fuse each block's multiply-adds where the reference rounds each product;
 * both take the blocks in order, so they differ by a few roundings per block of the sum of
 * magnitudes (the contract of qmatmul_ref.c, as test_quant_matmul.c checks it). The integer
 * sums are exact: a wrong level, bit or lane is off by a whole term, far past this. */
static int count_far(const problem *p, const float *y, const float *ref, int64_t r0, int64_t r1)
{
    const double rel = 4.0 * ((double)(p->n_in / 32) + 4.0) * FLT_EPSILON;
    int bad = 0;
    for (int64_t t = 0; t < p->n_tok; t++)
        for (int64_t r = 0; r < p->ldy; r++) {
            const float v = y[t * p->ldy + r], e = ref[t * p->ldy + r];
            if (r < r0 || r >= r1)
                bad += v != SENTINEL; /* rows outside the range untouched */
            else
                bad += !(fabs((double)v - e) <= rel * p->mag[t * p->rows + r] + 1e-30);
        }
    return bad;
}

static bool same_bits(const problem *p, const float *a, const float *b)
{
    return memcmp(a, b, (size_t)(p->ldy * p->n_tok) * sizeof(float)) == 0;
}

/* Slot f on weights w (rows, or groups for an il slot) against the reference's y: within
 * tolerance on a sub-range; then the whole range as one call, as two calls split at `cut`,
 * and one token at a time, all the same bits. */
static void check_slot(const char *what, tlm_matmul_fn f, const problem *p, const uint8_t *w,
                       const float *ref_full, int64_t cut)
{
    const int64_t r0 = p->rows > 2 ? 1 : 0;
    float *sub = y_new(p), *full = y_new(p), *split = y_new(p), *one = y_new(p);
    float *ref_sub = y_new(p);
    run(f, p, w, sub, r0, p->rows);
    for (int64_t i = 0; i < p->ldy * p->n_tok; i++)
        ref_sub[i] = i % p->ldy >= r0 ? ref_full[i] : SENTINEL;
    int bad = count_far(p, sub, ref_sub, r0, p->rows);
    CHECK(bad == 0,
          "%s: %d outputs of rows [%ld, %ld) beyond float summation error of the "
          "reference, or rows outside touched",
          what, bad, (long)r0, (long)p->rows);
    run(f, p, w, full, 0, p->rows);
    bad = count_far(p, full, ref_full, 0, p->rows);
    CHECK(bad == 0, "%s: %d outputs beyond float summation error of the reference", what, bad);
    run(f, p, w, split, cut, p->rows);
    run(f, p, w, split, 0, cut);
    CHECK(same_bits(p, full, split), "%s: rows [0, %ld) + [%ld, rows) differ from one call", what,
          (long)cut, (long)cut);
    for (int64_t t = 0; t < p->n_tok; t++)
        f(one + t * p->ldy, p->ldy, w, p->rb, p->x + t * p->ldx, p->ldx, 1, p->n_in, 0, p->rows);
    CHECK(same_bits(p, full, one), "%s: one token at a time differs from the batch", what);
    buf_free(sub);
    buf_free(full);
    buf_free(split);
    buf_free(one);
    buf_free(ref_sub);
}

static void check_simd(const qtype *t, const tlm_kernels *ref, const isa_table *s)
{
    static const int64_t n_ins[] = {32, 96, 1056, 4128};
    static const int64_t n_toks[] = {1, 2, 3, 7, 70, 300};
    static const int64_t rows_list[] = {1, 7, 19, 33};
    for (size_t a = 0; a < COUNT(n_ins); a++)
        for (size_t b = 0; b < COUNT(n_toks); b++)
            for (size_t c = 0; c < COUNT(rows_list); c++) {
                const int64_t n_in = n_ins[a], n_tok = n_toks[b], rows = rows_list[c];
                if (n_in * n_tok * rows > 4128 * 7 * 33) continue; /* keep it quick */
                problem p;
                problem_new(&p, t, n_in, n_tok, rows);
                float *ref_y = y_new(&p);
                run(ref->matmul[t->type], &p, p.w, ref_y, 0, rows);
                char what[96];
                snprintf(what, sizeof what, "%s %s n_in %ld n_tok %ld rows %ld", t->name, s->name,
                         (long)n_in, (long)n_tok, (long)rows);
                check_slot(what, s->k.matmul[t->type], &p, p.w, ref_y, rows / 3);
                buf_free(ref_y);
                problem_free(&p);
            }
    /* every small batch (and 17, past them): k within one gemm chunk and across two (129
     * blocks: the chunks are 64 .. 85 blocks), a partial group and two groups and a bit */
    for (int64_t n_tok = 2; n_tok <= 17; n_tok++) {
        const int64_t n_in = n_tok % 2 ? 4128 : 96, rows = n_tok % 3 ? 33 : 7;
        problem p;
        problem_new(&p, t, n_in, n_tok, rows);
        float *ref_y = y_new(&p);
        run(ref->matmul[t->type], &p, p.w, ref_y, 0, rows);
        char what[96];
        snprintf(what, sizeof what, "%s %s n_in %ld n_tok %ld rows %ld", t->name, s->name,
                 (long)n_in, (long)n_tok, (long)rows);
        check_slot(what, s->k.matmul[t->type], &p, p.w, ref_y, rows / 3);
        buf_free(ref_y);
        problem_free(&p);
    }
}

/* One shape of check_il. */
static void check_il_case(const qtype *t, const tlm_kernels *ref, const isa_table *s, int64_t n_in,
                          int64_t n_tok, int64_t rows)
{
    const int layout = s->k.il_layout[t->type];
    problem p;
    problem_new(&p, t, n_in, n_tok, rows);
    p.rb -= 2; /* groups take the rows' exact bytes */
    uint8_t *plain = malloc(p.rb * (uint64_t)rows + 2), *grp = malloc(p.rb * (uint64_t)rows + 2);
    for (int64_t r = 0; r < rows; r++)
        memcpy(plain + 2 + r * p.rb, p.w + r * (p.rb + 2), p.rb);
    for (int64_t g = 0; g < rows / 16; g++)
        tlm_il_group(layout, t->type, grp + 2 + g * 16 * p.rb, plain + 2 + g * 16 * p.rb, p.rb);
    bool back = true;
    uint8_t row[4128 / 32 * 24];
    for (int64_t r = 0; r < rows; r++) {
        tlm_il_row(layout, t->type, row, grp + 2 + r / 16 * 16 * p.rb, p.rb, (int)(r % 16));
        back = back && memcmp(row, plain + 2 + r * p.rb, p.rb) == 0;
    }
    char what[96];
    snprintf(what, sizeof what, "%s %s il n_in %ld n_tok %ld rows %ld", t->name, s->name,
             (long)n_in, (long)n_tok, (long)rows);
    CHECK(back, "%s: rows do not come back from their groups", what);
    float *ref_y = y_new(&p), *rows_y = y_new(&p), *il_y = y_new(&p);
    run(ref->matmul[t->type], &p, plain + 2, ref_y, 0, rows);
    run(s->k.matmul[t->type], &p, plain + 2, rows_y, 0, rows);
    run(s->k.matmul_il[t->type], &p, grp + 2, il_y, 0, rows);
    CHECK(same_bits(&p, rows_y, il_y), "%s: differs from the row kernel", what);
    check_slot(what, s->k.matmul_il[t->type], &p, grp + 2, ref_y, rows > 21 ? 21 : 5);
    buf_free(ref_y);
    buf_free(rows_y);
    buf_free(il_y);
    free(plain);
    free(grp);
    problem_free(&p);
}

/* The groups of 16 rows (kernels.h, il): the matrix grouped in the table's layout gives back
 * every row, and the il slot on it gives the row slot's bits on the rows (split inside a
 * group, one token at a time) and the reference's sums within tolerance. */
static void check_il(const qtype *t, const tlm_kernels *ref, const isa_table *s)
{
    static const int64_t n_ins[] = {32, 1056, 4128};
    static const int64_t n_toks[] = {1, 2, 7, 70};
    static const int64_t rows_list[] = {16, 48};
    const int layout = s->k.il_layout[t->type], n = tlm_il_rows(layout, t->type);
    CHECK(n == 16, "%s %s: the il layout %d groups %d rows, not 16", t->name, s->name, layout, n);
    if (n != 16) return;
    for (size_t a = 0; a < COUNT(n_ins); a++)
        for (size_t b = 0; b < COUNT(n_toks); b++)
            for (size_t c = 0; c < COUNT(rows_list); c++)
                check_il_case(t, ref, s, n_ins[a], n_toks[b], rows_list[c]);
    /* every small batch on groups (and 17), k within one gemm chunk and across two */
    for (int64_t n_tok = 2; n_tok <= 17; n_tok++)
        check_il_case(t, ref, s, n_tok % 2 ? 4128 : 1056, n_tok, n_tok % 3 ? 48 : 16);
}

/* The small-batch contract (qmatmul_blocked.h) of slot f on weights w (rows, or groups for an
 * il slot; rb bytes apart): the first n tokens of a prefill of p's n_tok (> 16: packed tiles)
 * are the bits of those n tokens as one small batch (gemm, n = 2 .. 16) and of each token
 * alone (decode). Independent of the reference: decode, small batches and prefill must agree
 * bit for bit among themselves. */
static void check_batch_contract(const char *what, tlm_matmul_fn f, const problem *p,
                                 const uint8_t *w, uint64_t rb)
{
    float *pre = y_new(p), *part = y_new(p), *one = y_new(p);
    f(pre, p->ldy, w, rb, p->x, p->ldx, p->n_tok, p->n_in, 0, p->rows);
    int bad = 0;
    for (int64_t n = 2; n <= 16; n++) {
        f(part, p->ldy, w, rb, p->x, p->ldx, n, p->n_in, 0, p->rows);
        bad += memcmp(part, pre, (size_t)(n * p->ldy) * sizeof(float)) != 0;
    }
    CHECK(bad == 0,
          "%s: %d of the small batches 2 .. 16 differ from the same tokens of a "
          "prefill of %ld",
          what, bad, (long)p->n_tok);
    for (int64_t t = 0; t < p->n_tok; t++)
        f(one + t * p->ldy, p->ldy, w, rb, p->x + t * p->ldx, p->ldx, 1, p->n_in, 0, p->rows);
    CHECK(same_bits(p, pre, one), "%s: one token at a time differs from a prefill of %ld", what,
          (long)p->n_tok);
    buf_free(pre);
    buf_free(part);
    buf_free(one);
}

/* check_batch_contract on rows and, where rows are whole groups of 16, on groups. */
static void check_batch(const qtype *t, const isa_table *s, int64_t n_in, int64_t rows)
{
    problem p;
    problem_new(&p, t, n_in, 21, rows);
    char what[96];
    snprintf(what, sizeof what, "%s %s n_in %ld rows %ld", t->name, s->name, (long)n_in,
             (long)rows);
    check_batch_contract(what, s->k.matmul[t->type], &p, p.w, p.rb);
    if (rows % 16 == 0 && s->k.matmul_il[t->type]) {
        const int layout = s->k.il_layout[t->type];
        const uint64_t rb = p.rb - 2; /* groups take the rows' exact bytes */
        uint8_t *plain = malloc(rb * (uint64_t)rows), *grp = malloc(rb * (uint64_t)rows + 2);
        for (int64_t r = 0; r < rows; r++)
            memcpy(plain + r * rb, p.w + r * p.rb, rb);
        for (int64_t g = 0; g < rows / 16; g++)
            tlm_il_group(layout, t->type, grp + 2 + g * 16 * rb, plain + g * 16 * rb, rb);
        snprintf(what, sizeof what, "%s %s il n_in %ld rows %ld", t->name, s->name, (long)n_in,
                 (long)rows);
        check_batch_contract(what, s->k.matmul_il[t->type], &p, grp + 2, rb);
        free(plain);
        free(grp);
    }
    problem_free(&p);
}

/* ---- quantizers --------------------------------------------------------------------------- */

/* A block of values the type holds exactly: quantized and decoded, the same floats. */
static void check_exact(const qtype *t, const tlm_kernels *ref)
{
    float x[32], back[32];
    uint8_t blk[24];
    const float d = 0.0625f, m = -0.5f;
    for (int i = 0; i < 32; i++) {
        int c = (i * 7) % 16; /* every 4-bit code */
        switch (t->type) {
        case TLM_DT_Q4_1:
            x[i] = (float)c * d + m;
            break;
        case TLM_DT_Q5_0:
            x[i] = (float)((i * 7) % 32 - 16) * d;
            break;
        case TLM_DT_Q5_1:
            x[i] = (float)((i * 7) % 32) * d + m;
            break;
        default:
            x[i] = (float)tlm_iq4_values[c] * d;
            break;
        }
    }
    if (t->type == TLM_DT_Q5_0) x[5] = -16.0f * d; /* the extreme sets d = v / -16 */
    quantize(t, blk, x, 32);
    ref->to_f32[t->type](back, blk, 32);
    int bad = 0;
    for (int i = 0; i < 32; i++)
        bad += back[i] != x[i];
    CHECK(bad == 0, "%s: %d of 32 exactly representable values changed in a round trip", t->name,
          bad);
    float z[32] = {0};
    quantize(t, blk, z, 32);
    ref->to_f32[t->type](back, blk, 32);
    bad = 0;
    for (int i = 0; i < 32; i++)
        bad += back[i] != 0.0f;
    CHECK(bad == 0, "%s: a zero block decodes to %d non-zero values", t->name, bad);
}

static float gauss(void)
{
    float u = rng_float(1e-7f, 1.0f), v = rng_float(0.0f, 1.0f);
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

static void check_error(const qtype *t, const tlm_kernels *ref)
{
    enum { N = 4096 };
    static float x[N], back[N];
    static uint8_t blk[N / 32 * 24];
    for (int i = 0; i < N; i++)
        x[i] = gauss();
    quantize(t, blk, x, N);
    ref->to_f32[t->type](back, blk, N);
    double e = 0, s = 0;
    for (int i = 0; i < N; i++) {
        e += ((double)back[i] - x[i]) * ((double)back[i] - x[i]);
        s += (double)x[i] * x[i];
    }
    const double rel = sqrt(e / s);
    printf("%s: relative RMS error on gaussian rows %.4f (bound %.2f)\n", t->name, rel,
           t->max_rmse);
    CHECK(rel <= t->max_rmse && rel > 0.0, "%s: relative RMS error %.4f", t->name, rel);
}

/* ---- dump mode for the NumPy check ------------------------------------------------------- */

static int dump_to_f32(const char *type_arg)
{
    const int id = atoi(type_arg);
    const qtype *t = NULL;
    for (size_t i = 0; i < COUNT(types); i++)
        if (types[i].type == id) t = &types[i];
    tlm_kernels ref;
    tlm_kernels_init_ref(&ref);
    if (!t || !ref.to_f32[id]) {
        fprintf(stderr, "no such type %s\n", type_arg);
        return 2;
    }
    uint8_t blk[24];
    float out[32];
    while (fread(blk, (size_t)t->bytes, 1, stdin) == 1) {
        ref.to_f32[id](out, blk, 32);
        if (fwrite(out, sizeof out, 1, stdout) != 1) return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--to-f32") == 0) return dump_to_f32(argv[2]);
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    rng_seed(16);
    for (size_t i = 0; i < COUNT(types); i++) {
        const qtype *t = &types[i];
        CHECK(ref.matmul[t->type] && ref.to_f32[t->type], "%s: reference slots set", t->name);
        CHECK(!ref.matmul_il[t->type], "%s: the reference table reads no groups", t->name);
        check_ref_sum(t, &ref);
        check_exact(t, &ref);
        check_error(t, &ref);
        for (int s = 0; s < N_SIMD; s++) {
            if (!simd[s].available) {
                SKIP(1, "%s %s: level not on this CPU", t->name, simd[s].name);
                continue;
            }
            /* every level of both architectures has its kernels (AArch64: qbody_neon.h) */
            CHECK(simd[s].k.matmul[t->type] != ref.matmul[t->type], "%s %s: a SIMD slot is set",
                  t->name, simd[s].name);
            check_simd(t, &ref, &simd[s]);
            /* the loader groups a matrix only where the table has a kernel that reads the
             * groups (model_interleave.c): every level has one (16 rows, TLM_IL_STD) */
            /* k within one gemm chunk and across two; a partial group, groups */
            check_batch(t, &simd[s], 96, 7);
            check_batch(t, &simd[s], 4128, 33);
            check_batch(t, &simd[s], 4128, 48);
            check_batch(t, &simd[s], 1056, 16);
            if (simd[s].k.matmul_il[t->type])
                check_il(t, &ref, &simd[s]);
            else
                CHECK(false, "%s %s: no interleaved kernel", t->name, simd[s].name);
        }
    }
    return finish("quant_b32");
}
