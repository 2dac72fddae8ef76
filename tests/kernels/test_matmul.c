/* test_matmul.c - the matmul slots (F32, F16, BF16) of every SIMD level against the reference,
 * and the reference against a double-precision sum.
 *
 * Odd sizes, unaligned pointers, padded rows and strides; y entries outside the written
 * range must stay untouched. Row splits must give the same bits as one call (the
 * determinism contract), and so must one token at a time (matmul_blocked.h: every path of
 * the SIMD kernels, like the reference, sums in an order that depends on n_in alone). The
 * row-interleaved slots on 4-row groups give their ISA's row-slot bits; x86's 16 rows in the
 * lanes (their own order) give the bits of a scalar model of that order (lanes_model) and stay
 * within the float error bound of the exact sums. */
#include <omp.h>

#include "isa_tables.h"

typedef struct shape {
    int64_t n_in, rows, n_tok;
} shape;

typedef struct problem {
    tlm_dtype type;
    shape s;
    void *w; /* rows of w_row_bytes, unaligned */
    uint64_t w_row_bytes;
    float *x;
    int64_t ldx, ldy;
    double *exact, *bound; /* per output: the sum in double, and sum |w x| */
} problem;

static const uint32_t SENTINEL = 0x7fc0dead; /* a NaN no kernel produces */

static size_t elem_bytes(tlm_dtype type) { return type == TLM_DT_F32 ? 4 : 2; }

static float weight_value(tlm_dtype type, const void *row, int64_t i)
{
    if (type == TLM_DT_F32) return ((const float *)row)[i];
    uint16_t h = ((const uint16_t *)row)[i];
    return type == TLM_DT_F16 ? tlm_f16_to_f32(h) : tlm_bf16_to_f32(h);
}

static void problem_sums(problem *p);

static void problem_new(problem *p, tlm_dtype type, shape s)
{
    size_t es = elem_bytes(type);
    p->type = type;
    p->s = s;
    p->w_row_bytes = (uint64_t)(s.n_in + 3) * es; /* padded rows */
    p->ldx = s.n_in + 5;
    p->ldy = s.rows + 7;
    /* weights start one element past a 64-byte boundary */
    float *wbuf = buf_new((int64_t)(p->w_row_bytes * (uint64_t)s.rows / 4) + 2, 0);
    p->w = (char *)wbuf + es;
    for (int64_t r = 0; r < s.rows; r++) {
        char *row = (char *)p->w + (uint64_t)r * p->w_row_bytes;
        for (int64_t i = 0; i < s.n_in + 3; i++) {
            float v = rng_float(-1.0f, 1.0f);
            if (type == TLM_DT_F32) memcpy(row + i * 4, &v, 4);
            uint16_t h = type == TLM_DT_F16 ? tlm_f32_to_f16(v) : tlm_f32_to_bf16(v);
            if (type != TLM_DT_F32) memcpy(row + i * 2, &h, 2);
        }
    }
    p->x = buf_new(s.n_tok * p->ldx, 3);
    fill_uniform(p->x, s.n_tok * p->ldx, -1.0f, 1.0f);
    if (type == TLM_DT_BF16) /* the BF16 slots' contract (kernels.h): x rounded to bf16 */
        for (int64_t i = 0; i < s.n_tok * p->ldx; i++)
            p->x[i] = tlm_bf16_to_f32(tlm_f32_to_bf16(p->x[i]));
    p->exact = malloc((size_t)(s.rows * s.n_tok) * sizeof(double));
    p->bound = malloc((size_t)(s.rows * s.n_tok) * sizeof(double));
    problem_sums(p);
}

/* Each output's exact sum (in double) and sum |w x|, from p's w and x. */
static void problem_sums(problem *p)
{
    const shape s = p->s;
    for (int64_t t = 0; t < s.n_tok; t++)
        for (int64_t r = 0; r < s.rows; r++) {
            const char *row = (const char *)p->w + (uint64_t)r * p->w_row_bytes;
            double sum = 0, abs_sum = 0;
            for (int64_t i = 0; i < s.n_in; i++) {
                double prod = (double)weight_value(p->type, row, i) * p->x[t * p->ldx + i];
                sum += prod;
                abs_sum += fabs(prod);
            }
            p->exact[t * s.rows + r] = sum;
            p->bound[t * s.rows + r] = abs_sum;
        }
}

static void problem_free(problem *p)
{
    buf_free((float *)((char *)p->w - elem_bytes(p->type)));
    buf_free(p->x);
    free(p->exact);
    free(p->bound);
}

/* y of n_tok x ldy floats, unaligned, every entry SENTINEL. */
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

/* y holds rows [r0, r1) within `factor` float error bounds of the exact sums (or of `near`,
 * another result, when not NULL) and sentinels everywhere else; else says why in `why`. */
static bool y_ok(const problem *p, const float *y, const float *near, int64_t r0, int64_t r1,
                 double factor, char *why, size_t why_size)
{
    const shape s = p->s;
    for (int64_t t = 0; t < s.n_tok; t++)
        for (int64_t c = 0; c < p->ldy; c++) {
            float v = y[t * p->ldy + c];
            if (c < r0 || c >= r1) {
                if (is_sentinel(v)) continue;
                snprintf(why, why_size, "y[%lld][%lld] written outside rows [%lld, %lld)",
                         (long long)t, (long long)c, (long long)r0, (long long)r1);
                return false;
            }
            double e = near ? near[t * p->ldy + c] : p->exact[t * s.rows + c];
            double tol = factor * (double)s.n_in * FLT_EPSILON * p->bound[t * s.rows + c] + 1e-30;
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

/* One matmul slot on one problem: the full range (against the exact sums and, for a SIMD
 * slot, the reference's result `ref_y`), split ranges, a sub-range, one token at a time. */
static void check_slot(const char *isa, tlm_matmul_fn f, const problem *p, const float *ref_y)
{
    const shape s = p->s;
    char what[96], why[160] = "";
    snprintf(what, sizeof what, "%s type %d n_in %lld rows %lld n_tok %lld", isa, p->type,
             (long long)s.n_in, (long long)s.rows, (long long)s.n_tok);

    float *full = y_new(p), *split = y_new(p), *sub = y_new(p), *one = y_new(p);
    run(f, p, full, 0, s.rows);
    /* the float sum error bound, n_in * eps * sum |w x|, holds for every summation order */
    check(y_ok(p, full, NULL, 0, s.rows, 1.0, why, sizeof why), "%s: %s", what, why);
    if (ref_y)
        check(y_ok(p, full, ref_y, 0, s.rows, 2.0, why, sizeof why), "%s: vs ref: %s", what, why);

    int64_t cut = s.rows / 3 + 1 < s.rows ? s.rows / 3 + 1 : s.rows; /* an odd row split */
    run(f, p, split, cut, s.rows);
    run(f, p, split, 0, cut);
    check(same_bits(p, full, split), "%s: rows [0, %lld) + [%lld, rows) differ from one call", what,
          (long long)cut, (long long)cut);

    int64_t lo = s.rows >= 3 ? 1 : 0, hi = s.rows >= 3 ? s.rows - 1 : s.rows;
    run(f, p, sub, lo, hi);
    bool ok = y_ok(p, sub, NULL, lo, hi, 1.0, why, sizeof why);
    check(ok, "%s: rows [%lld, %lld): %s", what, (long long)lo, (long long)hi, why);
    for (int64_t t = 0; t < s.n_tok && ok; t++)
        ok = memcmp(sub + t * p->ldy + lo, full + t * p->ldy + lo,
                    (size_t)(hi - lo) * sizeof(float)) == 0;
    check(ok, "%s: rows [%lld, %lld) differ from the full range", what, (long long)lo,
          (long long)hi);

    for (int64_t t = 0; t < s.n_tok; t++)
        f(one + t * p->ldy, p->ldy, p->w, p->w_row_bytes, p->x + t * p->ldx, p->ldx, 1, s.n_in, 0,
          s.rows);
    check(same_bits(p, full, one), "%s: one token at a time differs from the batch", what);

    buf_free(full);
    buf_free(split);
    buf_free(sub);
    buf_free(one);
}

static void test_problem(const tlm_kernels *ref, const isa_table simd[N_SIMD], tlm_dtype type,
                         shape s)
{
    problem p;
    problem_new(&p, type, s);
    check_slot("ref", ref->matmul[type], &p, NULL);
    float *ref_y = y_new(&p);
    run(ref->matmul[type], &p, ref_y, 0, s.rows);
    for (int i = 0; i < N_SIMD; i++) {
        if (simd[i].available)
            check_slot(simd[i].name, simd[i].k.matmul[type], &p, ref_y);
        else
            n_skip += CHECKS_PER_SLOT;
    }
    buf_free(ref_y);
    problem_free(&p);
}

/* As the engine calls it (lib/runtime/forward.c): each of 2..4 OpenMP threads takes a
 * contiguous range of rows aligned to 16; every thread count must give the bits of one call. */
static void threads_same(const char *isa, tlm_matmul_fn f, const problem *p)
{
    const shape s = p->s;
    float *one = y_new(p), *many = y_new(p);
    run(f, p, one, 0, s.rows);
    for (int n_threads = 2; n_threads <= 4; n_threads++) {
#pragma omp parallel num_threads(n_threads)
        {
            int64_t nt = omp_get_num_threads(), t = omp_get_thread_num();
            int64_t chunk = ((s.rows + nt - 1) / nt + 15) & ~(int64_t)15;
            int64_t r0 = t * chunk, r1 = r0 + chunk < s.rows ? r0 + chunk : s.rows;
            if (r0 < r1) run(f, p, many, r0, r1);
        }
        check(same_bits(p, one, many),
              "%s type %d n_in %lld rows %lld n_tok %lld: %d threads differ", isa, p->type,
              (long long)s.n_in, (long long)s.rows, (long long)s.n_tok, n_threads);
    }
    buf_free(one);
    buf_free(many);
}

/* The layout each level's il slot reads for F16 and BF16 (kernels.h): x86's levels put 16
 * rows in the lanes, the others keep groups of 4 rows by steps of 16. */
static int float_layout(const char *isa)
{
    return strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 ? TLM_IL_LANES : TLM_IL_STD;
}

/* The lanes kernels' documented summation order (kernels/matmul_lanes_avx512.c), written
 * out in scalar code on the plain rows: chain j < 3 of q = n_in / 4 sums k in [jq, (j + 1) q),
 * chain 3 [3q, n_in), each from +0 by one fused multiply-add per k in increasing k; then
 * ((c0 + c1) + c2) + c3. Every FMA kernel on that layout must give these bits. */
static float *lanes_model(const problem *p)
{
    const shape s = p->s;
    const int64_t q = s.n_in / 4;
    float *y = y_new(p);
    for (int64_t t = 0; t < s.n_tok; t++)
        for (int64_t r = 0; r < s.rows; r++) {
            const char *row = (const char *)p->w + (uint64_t)r * p->w_row_bytes;
            float c[4] = {0};
            for (int64_t k = 0; k < s.n_in; k++) {
                const int j = k < 3 * q ? (int)(k / q) : 3;
                c[j] = fmaf(weight_value(p->type, row, k), p->x[t * p->ldx + k], c[j]);
            }
            y[t * p->ldy + r] = ((c[0] + c[1]) + c[2]) + c[3];
        }
    return y;
}

/* The FMA lanes kernel f on q (a lanes-grouped copy of p) gives model_y's bits. */
static void lanes_order_same(const char *name, tlm_matmul_fn f, const problem *p, const problem *q,
                             const float *model_y)
{
    const shape s = p->s;
    float *y = y_new(p);
    run(f, q, y, 0, s.rows);
    check(same_bits(p, model_y, y),
          "%s type %d lanes n_in %lld rows %lld n_tok %lld: not the bits of the lanes order", name,
          p->type, (long long)s.n_in, (long long)s.rows, (long long)s.n_tok);
    buf_free(y);
}

/* A level's F16 / BF16 tiles on 4-row groups, kept out of its table (which reads lanes). */
static tlm_matmul_fn il4_slot(const char *isa, tlm_dtype type)
{
#if defined(__x86_64__)
    if (strcmp(isa, "avx512") == 0)
        return type == TLM_DT_F16 ? tlm_matmul_il_f16_avx512 : tlm_matmul_il_bf16_avx512;
    if (strcmp(isa, "avx2") == 0)
        return type == TLM_DT_F16 ? tlm_matmul_il_f16_avx2 : tlm_matmul_il_bf16_avx2;
#endif
    return NULL;
}

/* A row-interleaved layout of the float types (kernels.h, il): a whole matrix grouped by
 * tlm_il_group gives back each row by tlm_il_row, and each level whose il slot reads
 * `layout` is checked on it. TLM_IL_STD sums as the rows do: its slot gives that level's
 * row-slot bits on the plain rows. TLM_IL_LANES has its own order (4 chains over the
 * quarters of k): the float error bound, and the reference's result within twice it. Both
 * with check_slot's splits (inside groups too), sub-range and one token at a time. */
static void test_il(const tlm_kernels *ref, const isa_table simd[N_SIMD], tlm_dtype type, shape s,
                    int layout)
{
    problem p;
    problem_new(&p, type, s);
    const int n = tlm_il_rows(layout, type);
    const uint64_t rb = (uint64_t)s.n_in * elem_bytes(type);
    check(n > 0 && tlm_il_fits(layout, type, s.rows, s.n_in) &&
              !tlm_il_fits(layout, type, s.rows + 1, s.n_in) &&
              tlm_il_fits(layout, type, s.rows, s.n_in + 1) == (layout == TLM_IL_LANES) &&
              !tlm_il_fits(layout, TLM_DT_F32, s.rows, s.n_in),
          "type %d layout %d: tlm_il_fits", type, layout);
    unsigned char *plain = malloc(rb * (uint64_t)s.rows + 2);
    unsigned char *grouped = malloc(rb * (uint64_t)s.rows + 2);
    for (int64_t r = 0; r < s.rows; r++)
        memcpy(plain + 2 + r * rb, (const char *)p.w + r * p.w_row_bytes, rb);
    for (int64_t g = 0; g < s.rows / n; g++)
        tlm_il_group(layout, type, grouped + 2 + g * n * rb, plain + 2 + g * n * rb, rb);
    bool back = true;
    unsigned char *row = malloc(rb + 1);
    for (int64_t r = 0; r < s.rows; r++) {
        tlm_il_row(layout, type, row, grouped + 2 + (r / n) * n * rb, rb, (int)(r % n));
        back = back && memcmp(row, plain + 2 + r * rb, rb) == 0;
    }
    check(back, "type %d layout %d n_in %lld rows %lld: rows do not come back from their groups",
          type, layout, (long long)s.n_in, (long long)s.rows);
    if (layout == TLM_IL_LANES) { /* row 5's element 3 (the last's, when shorter) is 32 x 3 + 10 */
        const int64_t k = s.n_in > 3 ? 3 : s.n_in - 1;
        check(memcmp(grouped + 2 + 32 * k + 10, plain + 2 + 5 * rb + 2 * k, 2) == 0,
              "type %d n_in %lld: lanes layout places row 5's element %lld wrongly", type,
              (long long)s.n_in, (long long)k);
    }
    free(row);

    float *ref_y = y_new(&p);
    run(ref->matmul[type], &p, ref_y, 0, s.rows);
    float *model_y = layout == TLM_IL_LANES ? lanes_model(&p) : NULL;
    for (int i = 0; i < N_SIMD; i++) {
        tlm_matmul_fn il = NULL;
        const char *what = "il";
        if (float_layout(simd[i].name) == layout) {
            il = simd[i].available ? simd[i].k.matmul_il[type] : NULL;
            check(!il || simd[i].k.il_layout[type] == layout, "%s type %d: il layout", simd[i].name,
                  type);
        } else if (il4_slot(simd[i].name, type)) { /* its 4-row tiles, out of the table */
            il = simd[i].available ? il4_slot(simd[i].name, type) : NULL;
            what = "il4";
        } else
            continue; /* the other layout's cases */
        if (!il) {
            n_skip += CHECKS_PER_SLOT + (layout == TLM_IL_LANES ? 4 : 1);
            continue;
        }
        problem q = p;
        q.w = grouped + 2;
        q.w_row_bytes = rb;
        char name[32];
        snprintf(name, sizeof name, "%s %s", simd[i].name, what);
        check_slot(name, il, &q, ref_y);
        if (layout == TLM_IL_LANES) {
            threads_same(name, il, &q);
#if defined(__x86_64__)
            if (il == tlm_matmul_lanes_bf16_avx512bf16) continue; /* pairs: its own order */
#endif
            lanes_order_same(simd[i].name, il, &p, &q, model_y);
            continue;
        }
        float *rows_y = y_new(&p), *il_y = y_new(&p);
        run(simd[i].k.matmul[type], &p, rows_y, 0, s.rows);
        run(il, &q, il_y, 0, s.rows);
        check(same_bits(&p, rows_y, il_y),
              "%s type %d il n_in %lld rows %lld n_tok %lld: differs "
              "from the row kernel",
              simd[i].name, type, (long long)s.n_in, (long long)s.rows, (long long)s.n_tok);
        buf_free(rows_y);
        buf_free(il_y);
    }
#if defined(__x86_64__)
    /* AVX-512's FMA kernel for BF16 lanes, which the AVX512_BF16 add-on replaces in the table */
    const isa_table *a5 = &simd[N_SIMD - 1];
    if (layout == TLM_IL_LANES && type == TLM_DT_BF16 &&
        a5->k.matmul_il[type] != tlm_matmul_lanes_bf16_avx512) {
        if (a5->available) {
            problem q = p;
            q.w = grouped + 2;
            q.w_row_bytes = rb;
            check_slot("avx512 lanes-fma", tlm_matmul_lanes_bf16_avx512, &q, ref_y);
            threads_same("avx512 lanes-fma", tlm_matmul_lanes_bf16_avx512, &q);
            lanes_order_same("avx512 lanes-fma", tlm_matmul_lanes_bf16_avx512, &p, &q, model_y);
        } else {
            n_skip += CHECKS_PER_SLOT + 4;
        }
    }
#endif
    buf_free(ref_y);
    if (model_y) buf_free(model_y);
    free(plain);
    free(grouped);
    problem_free(&p);
}

/* The row slot of each level, on rows, with the engine's thread splits. */
static void test_threads(const tlm_kernels *k, const char *isa, tlm_dtype type, shape s)
{
    problem p;
    problem_new(&p, type, s);
    threads_same(isa, k->matmul[type], &p);
    problem_free(&p);
}

#if defined(__x86_64__)
/* The AVX512_BF16 kernel (matmul_lanes_avx512bf16.c) on the lanes layout, when the CPU has
 * it: check_slot's float bound, splits and one token at a time; the same bits for 2..4
 * threads; a tighter bound, since its products of bf16 values are exact and each output is
 * one rounding per pair plus 3 (4 chains added): |y - exact| <= (n_in + 2) 2^-24 sum |w x|,
 * plus (n_in + 3) 2^-126 for the results vdpbf16ps flushes to zero; x not rounded gives the
 * bits of x rounded (the kernel rounds it itself); and the avx512 table takes it. Without
 * AVX512_BF16 every case counts as skipped. */
enum { BF16DOT_CHECKS = CHECKS_PER_SLOT + 3 + 3 };

enum { BD_PLAIN, BD_DENORMAL, BD_INTEGER }; /* test_bf16dot's data */

static void test_bf16dot(const isa_table *avx512, shape s, int data)
{
    const bool denormal = data == BD_DENORMAL, integer = data == BD_INTEGER;
    if (!avx512->available || !tlm_cpu_has(TLM_CPU_AVX512_BF16)) {
        n_skip += BF16DOT_CHECKS;
        return;
    }
    tlm_matmul_fn f = tlm_matmul_lanes_bf16_avx512bf16;
    problem p;
    problem_new(&p, TLM_DT_BF16, s);
    if (denormal) { /* every third x a bf16 denormal (decode and prefill convert x apart) */
        for (int64_t i = 0; i < s.n_tok * p.ldx; i += 3)
            p.x[i] = (i & 1 ? -0x1p-130f : 0x1p-127f) * (float)(1 + i % 5);
        problem_sums(&p);
    }
    if (integer) { /* w, x in -3..3: every partial sum is an integer under 2^24, so exact in any
                    * order: one product missing or taken twice shows, however long the row */
        for (int64_t r = 0; r < s.rows; r++)
            for (int64_t i = 0; i < s.n_in; i++) {
                uint16_t h = tlm_f32_to_bf16((float)(rng_next() % 7) - 3.0f);
                memcpy((char *)p.w + (uint64_t)r * p.w_row_bytes + 2 * (uint64_t)i, &h, 2);
            }
        for (int64_t i = 0; i < s.n_tok * p.ldx; i++)
            p.x[i] = (float)(rng_next() % 7) - 3.0f;
        problem_sums(&p);
    }
    const uint64_t rb = (uint64_t)s.n_in * 2;
    unsigned char *plain = malloc(rb * (uint64_t)s.rows + 2);
    unsigned char *grouped = malloc(rb * (uint64_t)s.rows + 2);
    for (int64_t r = 0; r < s.rows; r++)
        memcpy(plain + 2 + r * rb, (const char *)p.w + r * p.w_row_bytes, rb);
    for (int64_t g = 0; g < s.rows / 16; g++)
        tlm_il_group(TLM_IL_LANES, TLM_DT_BF16, grouped + 2 + g * 16 * rb, plain + 2 + g * 16 * rb,
                     rb);
    problem q = p;
    q.w = grouped + 2;
    q.w_row_bytes = rb;
    char what[96];
    snprintf(what, sizeof what, "avx512bf16 n_in %lld rows %lld n_tok %lld%s", (long long)s.n_in,
             (long long)s.rows, (long long)s.n_tok,
             denormal  ? " denormal x"
             : integer ? " integers"
                       : "");
    check_slot(denormal ? "avx512bf16 denormal x" : "avx512bf16", f, &q, NULL);
    threads_same("avx512bf16", f, &q);

    float *y = y_new(&p), *y_raw = y_new(&p);
    run(f, &q, y, 0, s.rows);
    bool ok = true;
    for (int64_t t = 0; t < s.n_tok && ok; t++)
        for (int64_t r = 0; r < s.rows && ok; r++) {
            const double e = p.exact[t * s.rows + r], a = p.bound[t * s.rows + r];
            const double tol =
                integer ? 0.0 : (double)(s.n_in + 2) * ldexp(a, -24) + ldexp(s.n_in + 3.0, -126);
            ok = fabs(y[t * p.ldy + r] - e) <= tol;
            if (!ok)
                check(false, "%s: y[%lld][%lld] = %.9g, exact %.9g, bound %.3g", what, (long long)t,
                      (long long)r, y[t * p.ldy + r], e, tol);
        }
    if (ok) check(true, "%s: bound", what);

    /* x moved by at most 2^-12 of itself, less than half a bf16 step: rounds back to x */
    float *x_raw = buf_new(s.n_tok * p.ldx, 3);
    for (int64_t i = 0; i < s.n_tok * p.ldx; i++)
        x_raw[i] = p.x[i] * (1.0f + rng_float(-1.0f, 1.0f) * 0x1p-12f);
    problem raw = q;
    raw.x = x_raw;
    run(f, &raw, y_raw, 0, s.rows);
    check(same_bits(&p, y, y_raw), "%s: x not rounded gives other bits than x rounded", what);

    tlm_kernels table;
    tlm_kernels_fill(&table, "avx512");
    check(table.matmul_il[TLM_DT_BF16] == f && table.il_layout[TLM_DT_BF16] == TLM_IL_LANES,
          "avx512 table: BF16 il slot is not the AVX512_BF16 kernel on the lanes layout");

    buf_free(x_raw);
    buf_free(y);
    buf_free(y_raw);
    free(plain);
    free(grouped);
    problem_free(&p);
}
#endif

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);

    static const int64_t n_ins[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257};
    static const int64_t rows[] = {1, 3, 4, 8, 9, 17, 37};
    static const int64_t n_toks[] = {1, 2, 3, 5, 8, 17, 64};
    /* sizes that cross the token blocks of matmul_blocked.c (512 KB of activations) */
    static const shape large[] = {{1030, 33, 130}, {4099, 19, 3}, {4099, 5, 67}, {2048, 16, 1}};
    static const tlm_dtype types[] = {TLM_DT_F32, TLM_DT_F16, TLM_DT_BF16};

    for (size_t ti = 0; ti < COUNT(types); ti++) {
        for (size_t a = 0; a < COUNT(n_ins); a++)
            for (size_t b = 0; b < COUNT(rows); b++)
                for (size_t c = 0; c < COUNT(n_toks); c++)
                    test_problem(&ref, simd, types[ti], (shape){n_ins[a], rows[b], n_toks[c]});
        for (size_t l = 0; l < COUNT(large); l++)
            test_problem(&ref, simd, types[ti], large[l]);
    }

    static const int64_t il_in[] = {16, 48, 2048};
    static const int64_t il_rows[] = {4, 12, 36};
    static const int64_t il_tok[] = {1, 2, 5, 17, 130};
    for (size_t ti = 1; ti < COUNT(types); ti++) /* F16, BF16 */
        for (size_t a = 0; a < COUNT(il_in); a++)
            for (size_t b = 0; b < COUNT(il_rows); b++)
                for (size_t c = 0; c < COUNT(il_tok); c++)
                    test_il(&ref, simd, types[ti], (shape){il_in[a], il_rows[b], il_tok[c]},
                            TLM_IL_STD);

    /* rows in lanes: n_in with every remainder mod 4 (the quarter chains' tails), tokens
     * around the prefill tiles' 6 (AVX2) and 14 (AVX-512); then shapes that cross their token
     * blocks (n_in 5632: 30 and 28 tokens a block), fill AVX-512's panel exactly (16384: 14)
     * or overflow it (16385: one token at a time; AVX2's from 32769), and a tall matrix */
    static const int64_t ln_in[] = {1, 3, 4, 5, 16, 17, 31, 63, 257};
    static const int64_t ln_rows[] = {16, 32, 48};
    static const int64_t ln_tok[] = {1, 2, 5, 6, 7, 13, 14, 15, 29, 40};
    static const shape ln_large[] = {{5632, 48, 40},  {5631, 16, 3},   {4099, 80, 17},
                                     {2048, 4096, 3}, {16384, 32, 15}, {16385, 32, 15},
                                     {32768, 16, 13}, {32772, 16, 7}};
    for (size_t ti = 1; ti < COUNT(types); ti++) {
        for (size_t a = 0; a < COUNT(ln_in); a++)
            for (size_t b = 0; b < COUNT(ln_rows); b++)
                for (size_t c = 0; c < COUNT(ln_tok); c++)
                    test_il(&ref, simd, types[ti], (shape){ln_in[a], ln_rows[b], ln_tok[c]},
                            TLM_IL_LANES);
        for (size_t l = 0; l < COUNT(ln_large); l++)
            test_il(&ref, simd, types[ti], ln_large[l], TLM_IL_LANES);
    }

#if defined(__x86_64__)
    /* vdpbf16ps: n_in with every remainder mod 4 and odd or even quarters (pairs and lone
     * last elements), every token count 1..40 (tiles of 14 and their tails), the panel's
     * token blocks and its overflow (n_in 16385: one token at a time), and an x too long for
     * decode's pair buffer (16421: converted per group) */
    const isa_table *avx512 = &simd[N_SIMD - 1];
    if (!avx512->available || !tlm_cpu_has(TLM_CPU_AVX512_BF16))
        printf("avx512bf16: SKIPPED (not on this CPU, or above TLM_ISA)\n");
    static const int64_t bd_in[] = {1, 2, 3, 5, 6, 7, 9, 12, 63, 130, 131, 133, 135, 258};
    static const int64_t bd_rows[] = {16, 48};
    for (size_t a = 0; a < COUNT(bd_in); a++)
        for (size_t b = 0; b < COUNT(bd_rows); b++)
            for (int64_t nt = 1; nt <= 3; nt++)
                test_bf16dot(avx512, (shape){bd_in[a], bd_rows[b], nt * 7 - 6}, BD_PLAIN);
    for (int64_t nt = 1; nt <= 40; nt++)
        test_bf16dot(avx512, (shape){133, 48, nt}, BD_PLAIN);
    for (int64_t nt = 1; nt <= 29; nt += 14)
        test_bf16dot(avx512, (shape){135, 32, nt}, BD_DENORMAL);
    static const shape bd_large[] = {{5632, 48, 40},  {5631, 32, 29},  {16384, 32, 15},
                                     {16385, 32, 15}, {16421, 32, 15}, {2048, 4096, 3}};
    for (size_t l = 0; l < COUNT(bd_large); l++) {
        test_bf16dot(avx512, bd_large[l], BD_PLAIN);
        test_bf16dot(avx512, bd_large[l], BD_INTEGER);
    }
#endif

    static const shape threaded[] = {{2048, 100, 1}, {2048, 100, 37}, {999, 61, 5}};
    for (size_t ti = 0; ti < COUNT(types); ti++)
        for (size_t i = 0; i < COUNT(threaded); i++) {
            test_threads(&ref, "ref", types[ti], threaded[i]);
            for (int l = 0; l < N_SIMD; l++) {
                if (simd[l].available)
                    test_threads(&simd[l].k, simd[l].name, types[ti], threaded[i]);
                else
                    n_skip += 3;
            }
        }

    /* the quantized types' slots are covered by test_quant_matmul.c */
    return finish("matmul");
}
