/* test_quant_b32.c - the blocks of 32 (kernels/quant_b32.h): Q4_1, Q5_0, Q5_1, IQ4_NL.
 *
 *   - reference matmul against a double-precision sum of the reference to_f32's weights times
 *     activations quantized here by the rule qmatmul_b32_ref.c states (1e-5 relative);
 *   - every SIMD matmul slot against the reference: the same bits, on odd row counts, row
 *     lengths that cross the kernels' chunks, token counts that cross their token blocks,
 *     unaligned weights (2-byte aligned, as GGUF may store them), unaligned activations,
 *     strides, sub-ranges of rows (rows outside [r0, r1) untouched);
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

static void check_simd(const qtype *t, const tlm_kernels *ref, const isa_table *s)
{
    static const int64_t n_ins[] = {32, 96, 1056, 4128};
    static const int64_t n_toks[] = {1, 2, 3, 5, 70};
    static const int64_t rows_list[] = {1, 7, 19};
    for (size_t a = 0; a < COUNT(n_ins); a++)
        for (size_t b = 0; b < COUNT(n_toks); b++)
            for (size_t c = 0; c < COUNT(rows_list); c++) {
                const int64_t n_in = n_ins[a], n_tok = n_toks[b], rows = rows_list[c];
                if (n_in * n_tok > 4128 * 5 && rows > 7) continue;        /* keep it quick */
                const uint64_t rb = (uint64_t)(n_in / 32 * t->bytes) + 2; /* padded rows */
                uint8_t *wbuf = malloc(rb * (uint64_t)rows + 2);
                uint8_t *w = wbuf + 2; /* 2-byte aligned only */
                for (int64_t r = 0; r < rows; r++)
                    random_blocks(t, w + (uint64_t)r * rb, n_in / 32);
                const int64_t ldx = n_in + 3, ldy = rows + 2;
                float *x = buf_new(ldx * n_tok, 1);
                fill_uniform(x, ldx * n_tok, -2.0f, 2.0f);
                for (int64_t i = 0; i < 32 && n_tok > 1; i++)
                    x[ldx + i] = 0.0f; /* a zero block */
                float *y0 = buf_new(ldy * n_tok, 0), *y1 = buf_new(ldy * n_tok, 3);
                const int64_t r0 = rows > 2 ? 1 : 0, r1 = rows;
                for (int64_t i = 0; i < ldy * n_tok; i++)
                    y0[i] = y1[i] = -7.0f;
                ref->matmul[t->type](y0, ldy, w, rb, x, ldx, n_tok, n_in, r0, r1);
                s->k.matmul[t->type](y1, ldy, w, rb, x, ldx, n_tok, n_in, r0, r1);
                int bad = 0;
                for (int64_t i = 0; i < ldy * n_tok; i++)
                    bad += memcmp(&y0[i], &y1[i], sizeof(float)) != 0;
                CHECK(bad == 0,
                      "%s %s n_in %ld n_tok %ld rows %ld: %d outputs differ from the "
                      "reference (or rows outside the range touched)",
                      t->name, s->name, (long)n_in, (long)n_tok, (long)rows, bad);
                buf_free(x);
                buf_free(y0);
                buf_free(y1);
                free(wbuf);
            }
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
        check_ref_sum(t, &ref);
        check_exact(t, &ref);
        check_error(t, &ref);
        for (int s = 0; s < N_SIMD; s++) {
            if (!simd[s].available) {
                SKIP(1, "%s %s: level not on this CPU", t->name, simd[s].name);
                continue;
            }
#if defined(__aarch64__)
            if (simd[s].k.matmul[t->type] == ref.matmul[t->type]) { /* no ARM kernels yet */
                SKIP(1, "%s %s: no kernel of this level for the type yet", t->name, simd[s].name);
                continue;
            }
#else
            CHECK(simd[s].k.matmul[t->type] != ref.matmul[t->type], "%s %s: a SIMD slot is set",
                  t->name, simd[s].name);
#endif
            check_simd(t, &ref, &simd[s]);
        }
    }
    return finish("quant_b32");
}
