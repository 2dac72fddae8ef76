/* test_lowk.c - the Q2_K, Q3_K and IQ4_XS kernels (kernels/quant_lowk.h, dequant_lowk_ref.c,
 * qmatmul_lowk_*.c, quant_lowk.c).
 *
 *   - the reference matmul against a double-precision sum of the reference-dequantized
 *     weights times activations quantized here by the documented rule (qmatmul_lowk_ref.c),
 *     within 1e-5 of the sum of magnitudes;
 *   - every SIMD matmul slot against the reference, bit for bit (the SIMD bodies take the
 *     reference's float steps), on random blocks (every bit pattern; random finite f16
 *     scales), row counts around the 16-row groups, 1..17 and 64 tokens, k across the
 *     activation chunk (4096), sub-ranges [r0, r1), unaligned activations and strides; rows
 *     outside the range untouched; rows 2^27 bytes apart (the packing's row-by-row path);
 *     every small batch (2 .. 16 tokens, the gemm kernels, and 17) on rows and groups, k
 *     within one gemm chunk and across several and the activation chunk. A level the CPU
 *     lacks is skipped, case by case;
 *   - the small-batch contract (qmatmul_blocked.h), on rows and groups: the first n tokens of
 *     a prefill of 21 (packed tiles) are bit for bit those n tokens as one small batch
 *     (n = 2 .. 16) and each token alone (decode);
 *   - the quantizers: every element is the nearest value the stored scales can represent
 *     (up to the f16 rounding of the super-block scale), the relative RMS error on Gaussian
 *     rows is below what each type's grid explains (bounds below), zero rows stay zero.
 * tests/test_lowk.py checks the dequantization bit for bit against NumPy written from GGUF's
 * block definitions; it runs this program as a helper:
 *   test_lowk --dequant TYPE IN OUT            blocks -> float32 (reference to_f32)
 *   test_lowk --quantize TYPE ROW IN OUT [IM]  float32 rows of ROW -> blocks (IM: ROW floats) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "isa_tables.h"
#include "quant.h"

typedef struct lowk_type {
    tlm_dtype type;
    const char *name;
    int block_bytes;
    void (*quantize)(void *, const float *, int64_t, const float *);
    /* relative RMS error bound of the quantizer on Gaussian rows: about the step of the
     * type's grid over a sub-block's spread divided by sqrt(12), with a margin (measured
     * 0.32, 0.17, 0.089 with these seeds) */
    double max_rel_rmse;
} lowk_type;

static const lowk_type types[] = {
    {TLM_DT_Q2_K, "q2_k", sizeof(block_q2_K), tlm_quantize_q2_K_ref, 0.36},
    {TLM_DT_Q3_K, "q3_k", sizeof(block_q3_K), tlm_quantize_q3_K_ref, 0.21},
    {TLM_DT_IQ4_XS, "iq4_xs", sizeof(block_iq4_xs), tlm_quantize_iq4_xs_ref, 0.10},
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static float unif(void) { return (float)((rnd() >> 40) + 0.5) / (float)(1 << 24); } /* (0, 1) */
static float gauss(void) { return sqrtf(-2.0f * logf(unif())) * cosf(6.2831853f * unif()); }

/* Offsets of the f16 scales in each block: d, then dmin for Q2_K. */
static void scale_offsets(tlm_dtype t, int *d, int *dmin)
{
    *dmin = -1;
    *d = t == TLM_DT_Q2_K ? 80 : t == TLM_DT_Q3_K ? 108 : 0;
    if (t == TLM_DT_Q2_K) *dmin = 82;
}

/* n random blocks: random bytes, then finite random f16 scales of magnitude 2^-14 .. 2^-2 */
static void random_blocks(const lowk_type *ty, uint8_t *dst, int64_t n_blocks)
{
    int od, om;
    scale_offsets(ty->type, &od, &om);
    for (int64_t b = 0; b < n_blocks; b++) {
        uint8_t *p = dst + b * ty->block_bytes;
        for (int i = 0; i < ty->block_bytes; i++)
            p[i] = (uint8_t)rnd();
        uint16_t d = tlm_f32_to_f16((unif() * 2 - 1) * ldexpf(1.0f, -(int)(rnd() % 13) - 2));
        memcpy(p + od, &d, 2);
        if (om >= 0) {
            uint16_t m = tlm_f32_to_f16(unif() * ldexpf(1.0f, -(int)(rnd() % 13) - 2));
            memcpy(p + om, &m, 2);
        }
    }
}

/* ---- the reference matmul against a double sum --------------------------------------------- */

static void ref_vs_double(const lowk_type *ty, const tlm_kernels *ref)
{
    enum { ROWS = 7, N_IN = 5 * 256, N_TOK = 3 };
    const int64_t rb = N_IN / 256 * ty->block_bytes;
    uint8_t *w = malloc(ROWS * rb);
    float *x = malloc(sizeof(float) * N_TOK * N_IN), *wf = malloc(sizeof(float) * N_IN);
    float y[N_TOK * ROWS];
    random_blocks(ty, w, ROWS * N_IN / 256);
    for (int i = 0; i < N_TOK * N_IN; i++)
        x[i] = gauss() * (i % 97 == 0 ? 8.0f : 1.0f);
    ref->matmul[ty->type](y, ROWS, w, (uint64_t)rb, x, N_IN, N_TOK, N_IN, 0, ROWS);
    int bad = 0;
    for (int t = 0; t < N_TOK; t++) {
        /* activations by the documented rule: d = amax / 127, q = round-half-even(x * 127/amax) */
        int8_t q[N_IN];
        double dx[N_IN / 256];
        for (int b = 0; b < N_IN / 256; b++) {
            const float *xb = x + t * N_IN + 256 * b;
            float amax = 0;
            for (int i = 0; i < 256; i++)
                amax = fmaxf(amax, fabsf(xb[i]));
            for (int i = 0; i < 256; i++)
                q[256 * b + i] = (int8_t)nearbyintf(xb[i] * (127.0f / amax));
            dx[b] = amax / 127.0f;
        }
        for (int r = 0; r < ROWS; r++) {
            ref->to_f32[ty->type](wf, w + r * rb, N_IN);
            double sum = 0, mag = 0;
            for (int i = 0; i < N_IN; i++) {
                sum += (double)wf[i] * q[i] * dx[i / 256];
                mag += fabs((double)wf[i] * q[i] * dx[i / 256]);
            }
            if (!(fabs(y[t * ROWS + r] - sum) <= 1e-5 * mag + 1e-30)) bad++;
        }
    }
    check(bad == 0,
          "%s: reference matmul = double sum of to_f32 x quantized activations "
          "(%d of %d outputs off)",
          ty->name, bad, N_TOK * ROWS);
    free(w);
    free(x);
    free(wf);
}

/* ---- every SIMD level against the reference -------------------------------------------------- */

static const uint32_t SENTINEL = 0x7fc0beefu;

/* Whether level l runs here with a kernel of its own for the type (main checks every level of
 * both architectures has one: a level keeping the reference fails there, and is skipped
 * here). */
static bool level_runs(const isa_table *level, const tlm_kernels *ref, int type)
{
    return level->available && level->k.matmul[type] != ref->matmul[type];
}

static void simd_case(const lowk_type *ty, const tlm_kernels *ref, const isa_table *simd,
                      int64_t rows, int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1)
{
    const uint64_t rb = (uint64_t)(n_in / 256 * ty->block_bytes) + 2; /* padded rows */
    const int64_t ldx = n_in + 3, ldy = rows + 5;
    uint8_t *wbuf = malloc(rows * rb + 2);
    uint8_t *w = wbuf + 2; /* 2-byte aligned only */
    for (int64_t r = 0; r < rows; r++)
        random_blocks(ty, w + r * rb, n_in / 256);
    float *xbuf = malloc(sizeof(float) * (n_tok * ldx + 1)), *x = xbuf + 1;
    for (int64_t i = 0; i < n_tok * ldx; i++)
        x[i] = gauss();
    uint32_t *yr = malloc(4 * n_tok * ldy), *ys = malloc(4 * n_tok * ldy);
    for (int64_t i = 0; i < n_tok * ldy; i++)
        yr[i] = SENTINEL;
    ref->matmul[ty->type]((float *)yr, ldy, w, rb, x, ldx, n_tok, n_in, r0, r1);
    for (int l = 0; l < N_SIMD; l++) {
        if (!level_runs(&simd[l], ref, ty->type)) {
            SKIP(1, "%s %s rows %lld k %lld tokens %lld: level or its kernel not here", ty->name,
                 simd[l].name, (long long)rows, (long long)n_in, (long long)n_tok);
            continue;
        }
        for (int64_t i = 0; i < n_tok * ldy; i++)
            ys[i] = SENTINEL;
        simd[l].k.matmul[ty->type]((float *)ys, ldy, w, rb, x, ldx, n_tok, n_in, r0, r1);
        int64_t diff = 0, outside = 0;
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t r = 0; r < ldy; r++) {
                bool in = r >= r0 && r < r1;
                if (ys[t * ldy + r] != yr[t * ldy + r]) diff++;
                if (!in && ys[t * ldy + r] != SENTINEL) outside++;
            }
        check(diff == 0 && outside == 0,
              "%s %s rows %lld [%lld, %lld) k %lld tokens %lld: reference bits (%lld differ, "
              "%lld written outside)",
              ty->name, simd[l].name, (long long)rows, (long long)r0, (long long)r1,
              (long long)n_in, (long long)n_tok, (long long)diff, (long long)outside);
    }
    free(wbuf);
    free(xbuf);
    free(yr);
    free(ys);
}

/* Rows 2^27 + 2 bytes apart, beyond the 32-bit offsets of the gathers: the kernels take their
 * row-by-row path. A sparse private mapping holds them (only the blocks are touched). */
static void far_rows_case(const lowk_type *ty, const tlm_kernels *ref, const isa_table *simd)
{
    enum { ROWS = 19, N_TOK = 11 }; /* small-batch passes of 4, 4, 3 (AVX2) and 8, 3 (VNNI) */
    const uint64_t rb = ((uint64_t)1 << 27) + 2;
    const size_t size = (size_t)(ROWS * rb + 4096);
    uint8_t *w = mmap(NULL, size, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (w == MAP_FAILED) {
        SKIP(N_SIMD, "%s far rows: no %zu-byte sparse mapping here", ty->name, size);
        return;
    }
    for (int r = 0; r < ROWS; r++)
        random_blocks(ty, w + r * rb, 2);
    float x[N_TOK * 512];
    for (int i = 0; i < N_TOK * 512; i++)
        x[i] = gauss();
    uint32_t yr[N_TOK * ROWS], ys[N_TOK * ROWS];
    ref->matmul[ty->type]((float *)yr, ROWS, w, rb, x, 512, N_TOK, 512, 0, ROWS);
    for (int l = 0; l < N_SIMD; l++) {
        if (!level_runs(&simd[l], ref, ty->type)) {
            SKIP(1, "%s %s far rows: level or its kernel not here", ty->name, simd[l].name);
            continue;
        }
        simd[l].k.matmul[ty->type]((float *)ys, ROWS, w, rb, x, 512, N_TOK, 512, 0, ROWS);
        check(memcmp(yr, ys, sizeof yr) == 0, "%s %s: rows 2^27 bytes apart, reference bits",
              ty->name, simd[l].name);
    }
    munmap(w, size);
}

/* ---- row-interleaved groups (kernels.h, il) ---------------------------------------------- */

/* A level's il slot for the type, on the whole matrix grouped in its il_layout, gives the
 * reference's bits on the plain rows: decode (one token: gemv straight from the groups) and
 * prefill (packed from the groups), ranges starting and ending inside groups. Rows come back
 * from their groups (tlm_il_row), and only the 16-row layout (TLM_IL_STD) is ever chosen for
 * these types, on x86 and AArch64 alike. */
static void il_case(const lowk_type *ty, const tlm_kernels *ref, const isa_table *simd,
                    int64_t rows, int64_t n_in, int64_t n_tok, int64_t r0, int64_t r1)
{
    const uint64_t rb = (uint64_t)(n_in / 256 * ty->block_bytes);
    const int64_t ldx = n_in + 1, ldy = rows + 3;
    uint8_t *plain = malloc(rows * rb), *gbuf = malloc(rows * rb + 2), *g = gbuf + 2;
    uint8_t *row = malloc(rb);
    random_blocks(ty, plain, rows * (n_in / 256));
    float *xbuf = malloc(sizeof(float) * (n_tok * ldx + 1)), *x = xbuf + 1;
    for (int64_t i = 0; i < n_tok * ldx; i++)
        x[i] = gauss();
    uint32_t *yr = malloc(4 * n_tok * ldy), *ys = malloc(4 * n_tok * ldy);
    for (int64_t i = 0; i < n_tok * ldy; i++)
        yr[i] = SENTINEL;
    ref->matmul[ty->type]((float *)yr, ldy, plain, rb, x, ldx, n_tok, n_in, r0, r1);
    for (int l = 0; l < N_SIMD; l++) {
        const tlm_matmul_fn il = simd[l].available ? simd[l].k.matmul_il[ty->type] : NULL;
        if (!il) {
            SKIP(1, "%s %s il rows %lld k %lld tokens %lld: level or its il kernel not here",
                 ty->name, simd[l].name, (long long)rows, (long long)n_in, (long long)n_tok);
            continue;
        }
        const int layout = simd[l].k.il_layout[ty->type], n = tlm_il_rows(layout, ty->type);
        if (!check(layout == TLM_IL_STD && n == 16 && rows % n == 0,
                   "%s %s: il layout %d, %d rows per group", ty->name, simd[l].name, layout, n))
            continue;
        for (int64_t r = 0; r < rows; r += n)
            tlm_il_group(layout, ty->type, g + r * rb, plain + r * rb, rb);
        int64_t back = 0;
        for (int64_t r = 0; r < rows; r++) {
            tlm_il_row(layout, ty->type, row, g + (r - r % n) * rb, rb, (int)(r % n));
            back += memcmp(row, plain + r * rb, rb) == 0;
        }
        check(back == rows, "%s %s il rows %lld k %lld: %lld of the rows come back from groups",
              ty->name, simd[l].name, (long long)rows, (long long)n_in, (long long)back);
        for (int64_t i = 0; i < n_tok * ldy; i++)
            ys[i] = SENTINEL;
        il((float *)ys, ldy, g, rb, x, ldx, n_tok, n_in, r0, r1);
        int64_t diff = 0, outside = 0;
        for (int64_t t = 0; t < n_tok; t++)
            for (int64_t r = 0; r < ldy; r++) {
                if (ys[t * ldy + r] != yr[t * ldy + r]) diff++;
                if ((r < r0 || r >= r1) && ys[t * ldy + r] != SENTINEL) outside++;
            }
        check(diff == 0 && outside == 0,
              "%s %s il rows %lld [%lld, %lld) k %lld tokens %lld: reference bits (%lld differ, "
              "%lld written outside)",
              ty->name, simd[l].name, (long long)rows, (long long)r0, (long long)r1,
              (long long)n_in, (long long)n_tok, (long long)diff, (long long)outside);
    }
    check(ref->matmul_il[ty->type] == NULL && tlm_il_rows(TLM_IL_SDOT4, ty->type) == 0,
          "%s: no il slot in the reference table, no SDOT4 layout", ty->name);
    free(plain);
    free(gbuf);
    free(row);
    free(xbuf);
    free(yr);
    free(ys);
}

/* ---- the small-batch contract ------------------------------------------------------------ */

/* Slot f on weights w (rows or groups, rb bytes apart): the first n tokens of a prefill of
 * N_TOK (> 16: packed tiles) are the bits of those n tokens as one small batch (gemm,
 * n = 2 .. 16) and of each token alone (decode); among themselves, not against the
 * reference. Returns the number of differing calls. */
static int contract_bad(tlm_matmul_fn f, const uint8_t *w, uint64_t rb, const float *x, int64_t ldx,
                        int64_t n_tok, int64_t n_in, int64_t rows, int64_t ldy)
{
    float *pre = malloc(sizeof(float) * n_tok * ldy), *part = malloc(sizeof(float) * n_tok * ldy);
    for (int64_t i = 0; i < n_tok * ldy; i++)
        pre[i] = part[i] = 0.0f;
    f(pre, ldy, w, rb, x, ldx, n_tok, n_in, 0, rows);
    int bad = 0;
    for (int64_t n = 2; n <= 16; n++) {
        f(part, ldy, w, rb, x, ldx, n, n_in, 0, rows);
        bad += memcmp(part, pre, sizeof(float) * n * ldy) != 0;
    }
    for (int64_t t = 0; t < n_tok; t++)
        f(part + t * ldy, ldy, w, rb, x + t * ldx, ldx, 1, n_in, 0, rows);
    bad += memcmp(part, pre, sizeof(float) * n_tok * ldy) != 0;
    free(pre);
    free(part);
    return bad;
}

/* contract_bad for every level on rows and, where rows are whole groups of 16, on groups. */
static void contract_case(const lowk_type *ty, const tlm_kernels *ref, const isa_table *simd,
                          int64_t rows, int64_t n_in)
{
    enum { N_TOK = 21 };
    const uint64_t rb = (uint64_t)(n_in / 256 * ty->block_bytes);
    const int64_t ldx = n_in + 1, ldy = rows + 3;
    uint8_t *plain = malloc(rows * rb), *gbuf = malloc(rows * rb + 2), *g = gbuf + 2;
    random_blocks(ty, plain, rows * (n_in / 256));
    float *x = malloc(sizeof(float) * N_TOK * ldx);
    for (int64_t i = 0; i < N_TOK * ldx; i++)
        x[i] = gauss();
    for (int l = 0; l < N_SIMD; l++) {
        if (!level_runs(&simd[l], ref, ty->type)) {
            SKIP(rows % 16 ? 1 : 2, "%s %s contract rows %lld: level or its kernel not here",
                 ty->name, simd[l].name, (long long)rows);
            continue;
        }
        int bad =
            contract_bad(simd[l].k.matmul[ty->type], plain, rb, x, ldx, N_TOK, n_in, rows, ldy);
        check(bad == 0,
              "%s %s rows %lld k %lld: %d of 15 small batches and decode differ from a "
              "prefill of %d",
              ty->name, simd[l].name, (long long)rows, (long long)n_in, bad, (int)N_TOK);
        const tlm_matmul_fn il = simd[l].k.matmul_il[ty->type];
        if (rows % 16) continue; /* no whole groups: rows only */
        if (!il) {
            SKIP(1, "%s %s contract: no il kernel", ty->name, simd[l].name);
            continue;
        }
        const int layout = simd[l].k.il_layout[ty->type];
        for (int64_t r = 0; r < rows; r += 16)
            tlm_il_group(layout, ty->type, g + r * rb, plain + r * rb, rb);
        bad = contract_bad(il, g, rb, x, ldx, N_TOK, n_in, rows, ldy);
        check(bad == 0,
              "%s %s il rows %lld k %lld: %d of 15 small batches and decode differ from a "
              "prefill of %d",
              ty->name, simd[l].name, (long long)rows, (long long)n_in, bad, (int)N_TOK);
    }
    free(plain);
    free(gbuf);
    free(x);
}

/* ---- quantizers ----------------------------------------------------------------------------- */

/* The values the stored scales of sub-block s (of 16) can represent, into v; returns how many. */
static int grid(const lowk_type *ty, const uint8_t *blk, int s, float *v, float *step)
{
    tlm_lowk_unit u;
    tlm_lowk_unpack(ty->type, &u, blk);
    const float dl = tlm_f16_to_f32(u.d) * (float)u.sc[s], ml = tlm_f16_to_f32(u.dmin) * u.m[s];
    *step = fabsf(dl);
    if (ty->type == TLM_DT_Q2_K) {
        for (int l = 0; l < 4; l++)
            v[l] = dl * (float)l - ml;
        return 4;
    }
    if (ty->type == TLM_DT_Q3_K) {
        for (int l = 0; l < 8; l++)
            v[l] = dl * (float)(l - 4);
        return 8;
    }
    for (int l = 0; l < 16; l++)
        v[l] = dl * (float)tlm_iq4_values[l];
    return 16;
}

static void quantizer_case(const tlm_kernels *ref, const lowk_type *ty, bool imatrix)
{
    enum { ROWS = 24, N = 1024 };
    float *x = malloc(sizeof(float) * ROWS * N), *back = malloc(sizeof(float) * N);
    float im[N];
    uint8_t *q = malloc((size_t)(N / 256 * ty->block_bytes));
    for (int i = 0; i < ROWS * N; i++)
        x[i] = gauss() * (i % 211 == 0 ? 6.0f : 1.0f); /* a few outliers */
    for (int i = 0; i < N; i++)
        im[i] = 0.5f + unif();
    double err2 = 0, sig2 = 0;
    int not_nearest = 0, checked = 0;
    for (int r = 0; r < ROWS; r++) {
        const float *xr = x + r * N;
        ty->quantize(q, xr, N, imatrix ? im : NULL);
        ref->to_f32[ty->type](back, q, N);
        for (int i = 0; i < N; i++) {
            err2 += ((double)xr[i] - back[i]) * ((double)xr[i] - back[i]);
            sig2 += (double)xr[i] * xr[i];
        }
        for (int i = 0; i < N; i += 16) {
            float v[16], step;
            int nv = grid(ty, q + i / 256 * ty->block_bytes, i % 256 / 16, v, &step);
            if (step == 0) continue; /* a sub-block scale of 0: its levels are not used */
            for (int j = i; j < i + 16; j++) {
                float best = INFINITY;
                for (int l = 0; l < nv; l++)
                    best = fminf(best, fabsf(xr[j] - v[l]));
                /* IQ4_XS rounds against d before its f16 rounding: up to 127 * 2^-11 steps */
                float slack = ty->type == TLM_DT_IQ4_XS ? 0.07f * step : 1e-5f * step;
                if (fabsf(xr[j] - back[j]) > best + slack) not_nearest++;
                checked++;
            }
        }
    }
    double rel = sqrt(err2 / sig2);
    printf("%s%s: relative RMS error %.4f\n", ty->name, imatrix ? " (imatrix)" : "", rel);
    check(not_nearest == 0 && checked > ROWS * N / 2,
          "%s%s: each element the nearest value its stored scales represent (%d of %d not)",
          ty->name, imatrix ? " (imatrix)" : "", not_nearest, checked);
    check(rel <= ty->max_rel_rmse, "%s%s: relative RMS error %.4f <= %.2f", ty->name,
          imatrix ? " (imatrix)" : "", rel, ty->max_rel_rmse);
    /* a zero row: zero blocks, zero values */
    memset(x, 0, sizeof(float) * N);
    ty->quantize(q, x, N, imatrix ? im : NULL);
    ref->to_f32[ty->type](back, q, N);
    int nz = 0;
    for (int i = 0; i < N; i++)
        nz += back[i] != 0;
    check(nz == 0, "%s%s: a zero row comes back zero (%d not)", ty->name,
          imatrix ? " (imatrix)" : "", nz);
    free(x);
    free(back);
    free(q);
}

/* ---- helper modes for tests/test_lowk.py ------------------------------------------------------
 */

static const lowk_type *type_named(const char *name)
{
    for (size_t i = 0; i < COUNT(types); i++)
        if (strcmp(types[i].name, name) == 0) return &types[i];
    return NULL;
}

static void *read_all(const char *path, long *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *p = malloc((size_t)*size + 1);
    if (p && fread(p, 1, (size_t)*size, f) != (size_t)*size) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

/* Writes n bytes to path: 0, or 2 on any failure. */
static int write_all(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 2;
    const bool ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : 2;
}

static int helper(int argc, char **argv)
{
    tlm_kernels ref;
    tlm_kernels_init_ref(&ref);
    const lowk_type *ty = argc > 2 ? type_named(argv[2]) : NULL;
    long size = 0;
    if (!ty) return fprintf(stderr, "unknown type\n"), 2;
    if (strcmp(argv[1], "--dequant") == 0 && argc == 5) {
        uint8_t *in = read_all(argv[3], &size);
        if (!in || size % ty->block_bytes) {
            free(in);
            return fprintf(stderr, "bad input\n"), 2;
        }
        int64_t n = size / ty->block_bytes * 256;
        float *out = malloc(sizeof(float) * (size_t)(n + 1));
        ref.to_f32[ty->type](out, in, n);
        int rc = write_all(argv[4], out, sizeof(float) * (size_t)n);
        free(in);
        free(out);
        return rc;
    }
    if (strcmp(argv[1], "--quantize") == 0 && (argc == 6 || argc == 7)) {
        const long row = atol(argv[3]);
        float *in = read_all(argv[4], &size);
        long im_size = 0;
        float *im = argc == 7 ? read_all(argv[6], &im_size) : NULL;
        if (!in || row <= 0 || row % 256 || size % (4 * row) || (argc == 7 && im_size != 4 * row)) {
            free(in);
            free(im);
            return fprintf(stderr, "bad input\n"), 2;
        }
        const long rows = size / (4 * row), rb = row / 256 * ty->block_bytes;
        uint8_t *out = malloc((size_t)(rows * rb + 1));
        for (long r = 0; r < rows; r++)
            ty->quantize(out + r * rb, in + r * row, row, im);
        int rc = write_all(argv[5], out, (size_t)(rows * rb));
        free(in);
        free(im);
        free(out);
        return rc;
    }
    fprintf(stderr, "usage: see the top of tests/kernels/test_lowk.c\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc > 1) return helper(argc, argv);
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    for (size_t i = 0; i < COUNT(types); i++) {
        const lowk_type *ty = &types[i];
        check(ref.matmul[ty->type] && ref.to_f32[ty->type], "%s: reference slots filled", ty->name);
        for (int l = 0; l < N_SIMD; l++) {
            if (!simd[l].available) continue;
            check(simd[l].k.matmul[ty->type] != ref.matmul[ty->type], "%s: %s has its own matmul",
                  ty->name, simd[l].name);
        }
        ref_vs_double(ty, &ref);
        static const int64_t rows[] = {1, 15, 16, 17, 33, 50};
        static const int64_t toks[] = {1, 2, 3, 4, 5, 8, 17, 64};
        static const int64_t ks[] = {256, 768, 4096 + 512};
        for (size_t a = 0; a < COUNT(rows); a++)
            for (size_t b = 0; b < COUNT(toks); b++) {
                const int64_t k = ks[(a + b) % COUNT(ks)];
                simd_case(ty, &ref, simd, rows[a], k, toks[b], 0, rows[a]);
            }
        simd_case(ty, &ref, simd, 50, 512, 1, 3, 37); /* ranges starting inside a group */
        simd_case(ty, &ref, simd, 50, 512, 7, 17, 18);
        simd_case(ty, &ref, simd, 300, 256, 300, 5, 290);   /* past the 256-token block */
        simd_case(ty, &ref, simd, 17, 256 * 760, 1, 0, 17); /* decode over 2 chunks of k */
        far_rows_case(ty, &ref, simd);
        static const int64_t il_rows[] = {16, 48};
        static const int64_t il_toks[] = {1, 2, 5, 17};
        for (size_t a = 0; a < COUNT(il_rows); a++)
            for (size_t b = 0; b < COUNT(il_toks); b++)
                il_case(ty, &ref, simd, il_rows[a], ks[(a + b) % COUNT(ks)], il_toks[b], 0,
                        il_rows[a]);
        il_case(ty, &ref, simd, 48, 512, 1, 3, 37); /* ranges starting and ending in a group */
        il_case(ty, &ref, simd, 48, 768, 6, 17, 18);
        il_case(ty, &ref, simd, 32, 4096 + 512, 64, 0, 29); /* k in several packed chunks */
        il_case(ty, &ref, simd, 16, 256 * 760, 1, 0, 16);   /* decode over 2 chunks of k */
        /* every small batch and 17: k within one gemm chunk (11 .. 18 super-blocks) and
         * across several and the activation chunk (46 super-blocks at 16 tokens) */
        for (int64_t nt = 2; nt <= 17; nt++) {
            const int64_t k = nt % 2 ? 256 * 50 : 768;
            simd_case(ty, &ref, simd, nt % 3 ? 33 : 16, k, nt, 0, nt % 3 ? 33 : 16);
            il_case(ty, &ref, simd, nt % 3 ? 48 : 16, k, nt, 0, nt % 3 ? 48 : 16);
        }
        il_case(ty, &ref, simd, 48, 512, 9, 3, 37); /* a small batch on a range inside groups */
        contract_case(ty, &ref, simd, 33, 256 * 20);
        contract_case(ty, &ref, simd, 48, 256 * 20);
        contract_case(ty, &ref, simd, 16, 512);
        quantizer_case(&ref, ty, false);
        quantizer_case(&ref, ty, true);
    }
    printf("test_lowk: %d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
    return n_fail != 0;
}
