/* kernel_ab.c - one quantized matmul slot of two kernel builds, A and B, timed in turns.
 *
 * Built and run by tests/bench/kernel-ab.sh (a developer's benchmark, not a test), which links the
 * kernels of two source trees with their symbols renamed (A_kernels_get, B_kernels_get, ...): this
 * program sees only those. It quantizes random rows once (A's reference quantizer), stores them as
 * A's table wants them (row-interleaved where its matmul_il slot exists), and times decode (one
 * token) of `mats` matrices of rows x cols, A and B in alternating order, rep after rep. Reports
 * each side's median GB/s (weight bytes / time) and the median of the per-rep ratios B / A, which
 * a drift of the machine's speed hits on both sides; and whether the outputs agree bit for bit.
 *
 *   kernel_ab TYPE REPS ROWS COLS MATS THREADS [TOKENS]
 * A working set past the last-level cache (e.g. 5632 x 2048 x 8) measures streaming; one
 * matrix of a few hundred rows stays in L2 and measures the arithmetic. TOKENS (default 1; at
 * most 64) times a small batch instead: GB/s then counts the weights once per call. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels.h"
#include "quant.h"

const tlm_kernels *A_kernels_get(void);
const tlm_kernels *B_kernels_get(void);
void A_il_group(int layout, int type, void *group, const void *rows, uint64_t row_bytes);
int A_il_rows(int layout, int type);

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void q2_K(void *d, const float *s, int64_t n) { tlm_quantize_q2_K_ref(d, s, n, NULL); }
static void q3_K(void *d, const float *s, int64_t n) { tlm_quantize_q3_K_ref(d, s, n, NULL); }
static void iq4_xs(void *d, const float *s, int64_t n) { tlm_quantize_iq4_xs_ref(d, s, n, NULL); }
static void iq4_nl(void *d, const float *s, int64_t n) { tlm_quantize_iq4_nl_ref(d, s, n, NULL); }

static const struct {
    const char *name;
    int type, block, bytes;
    void (*quantize)(void *dst, const float *src, int64_t n);
} types[] = {
    {"q8_0", TLM_DT_Q8_0, QK8_0, sizeof(block_q8_0), tlm_quantize_q8_0_ref},
    {"q4_0", TLM_DT_Q4_0, QK4_0, sizeof(block_q4_0), tlm_quantize_q4_0_ref},
    {"q4_1", TLM_DT_Q4_1, QK_B32, sizeof(block_q4_1), tlm_quantize_q4_1_ref},
    {"q5_0", TLM_DT_Q5_0, QK_B32, sizeof(block_q5_0), tlm_quantize_q5_0_ref},
    {"q5_1", TLM_DT_Q5_1, QK_B32, sizeof(block_q5_1), tlm_quantize_q5_1_ref},
    {"iq4_nl", TLM_DT_IQ4_NL, QK_B32, sizeof(block_iq4_nl), iq4_nl},
    {"q2_k", TLM_DT_Q2_K, QK_K, sizeof(block_q2_K), q2_K},
    {"q3_k", TLM_DT_Q3_K, QK_K, sizeof(block_q3_K), q3_K},
    {"q4_k", TLM_DT_Q4_K, QK_K, sizeof(block_q4_K), tlm_quantize_q4_K_ref},
    {"q5_k", TLM_DT_Q5_K, QK_K, sizeof(block_q5_K), tlm_quantize_q5_K_ref},
    {"q6_k", TLM_DT_Q6_K, QK_K, sizeof(block_q6_K), tlm_quantize_q6_K_ref},
    {"iq4_xs", TLM_DT_IQ4_XS, QK_K, sizeof(block_iq4_xs), iq4_xs},
};

int main(int argc, char **argv)
{
    if (argc != 7 && argc != 8) {
        fprintf(stderr, "usage: kernel_ab TYPE REPS ROWS COLS MATS THREADS [TOKENS]\n");
        return 2;
    }
    int ti = -1;
    for (int i = 0; i < (int)(sizeof types / sizeof types[0]); i++)
        if (!strcmp(argv[1], types[i].name)) ti = i;
    const int reps = atoi(argv[2]), mats = atoi(argv[5]), threads = atoi(argv[6]);
    const int64_t rows = atoll(argv[3]), cols = atoll(argv[4]);
    const int nt = argc == 8 ? atoi(argv[7]) : 1;
    if (ti < 0 || reps < 1 || reps > 10000 || rows < 16 || rows % 16 || rows > 1 << 20 ||
        cols < 256 || cols % 256 || cols > 1 << 20 || mats < 1 || mats > 64 || threads < 1 ||
        threads > 256 || nt < 1 || nt > 64) {
        fprintf(stderr, "kernel_ab: bad arguments (TYPE one of q8_0 .. iq4_xs; ROWS a multiple "
                        "of 16, COLS of 256; MATS 1..64, TOKENS 1..64)\n");
        return 2;
    }
    const int type = types[ti].type;
    const tlm_kernels *k[2] = {A_kernels_get(), B_kernels_get()};
    tlm_matmul_fn f[2];
    bool il[2];
    for (int v = 0; v < 2; v++) {
        il[v] = k[v]->matmul_il[type] != NULL;
        f[v] = il[v] ? k[v]->matmul_il[type] : k[v]->matmul[type];
    }
    if (!f[0] || !f[1] || il[0] != il[1] || k[0]->il_layout[type] != k[1]->il_layout[type]) {
        fprintf(stderr, "kernel_ab: %s: the two builds do not take the same layout\n", argv[1]);
        return 1;
    }
    const uint64_t rb = (uint64_t)(cols / types[ti].block * types[ti].bytes);
    const size_t mb = (size_t)rows * rb;
    char *plain = malloc(mb), *m[64];
    float *src = malloc((size_t)cols * sizeof(float)),
          *x = malloc((size_t)nt * (size_t)cols * sizeof(float));
    float *y[2] = {malloc((size_t)nt * (size_t)rows * sizeof(float)),
                   malloc((size_t)nt * (size_t)rows * sizeof(float))};
    double *t[2] = {malloc((size_t)reps * sizeof(double)), malloc((size_t)reps * sizeof(double))};
    double *ratio = malloc((size_t)reps * sizeof(double));
    if (!plain || !src || !x || !y[0] || !y[1] || !t[0] || !t[1] || !ratio) return 1;
    srand(1);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < cols; i++)
            src[i] = (float)rand() / (float)RAND_MAX - 0.5f;
        types[ti].quantize(plain + r * rb, src, cols);
    }
    const int layout = k[0]->il_layout[type], g = il[0] ? A_il_rows(layout, type) : 1;
    for (int j = 0; j < mats; j++) {
        if (!(m[j] = aligned_alloc(64, (mb + 63) / 64 * 64))) return 1;
        if (il[0])
            for (int64_t r = 0; r < rows; r += g)
                A_il_group(layout, type, m[j] + r * rb, plain + r * rb, rb);
        else
            memcpy(m[j], plain, mb);
    }
    for (int64_t i = 0; i < nt * cols; i++)
        x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    for (int rep = 0; rep < reps; rep++) {
        for (int turn = 0; turn < 2; turn++) {
            const int v = rep % 2 ? 1 - turn : turn; /* who goes first alternates */
            const double t0 = now();
            for (int j = 0; j < mats; j++) {
#pragma omp parallel num_threads(threads)
                { /* the runtime's split: whole groups of 16 rows per thread */
                    const int th = omp_get_thread_num(), n = omp_get_num_threads();
                    const int64_t r0 = rows / 16 * th / n * 16, r1 = rows / 16 * (th + 1) / n * 16;
                    f[v](y[v], rows, m[j], rb, x, cols, nt, cols, r0, r1);
                }
            }
            t[v][rep] = now() - t0;
        }
        ratio[rep] = t[0][rep] / t[1][rep];
    }
    const bool same = !memcmp(y[0], y[1], (size_t)nt * (size_t)rows * sizeof(float));
    const double gb = (double)mats * (double)mb / 1e9;
    const double ma = gb / median(t[0], reps), mbs = gb / median(t[1], reps);
    const double r50 = median(ratio, reps), r25 = ratio[reps / 4], r75 = ratio[3 * reps / 4];
    printf("%s %s %lld x %lld x %d, %d token%s, %d thread%s: A %.2f GB/s, B %.2f GB/s, B/A %.3f "
           "(quartiles %.3f %.3f), %s\n",
           argv[1], il[0] ? "interleaved" : "rows", (long long)rows, (long long)cols, mats, nt,
           nt > 1 ? "s" : "", threads, threads > 1 ? "s" : "", ma, mbs, r50, r25, r75,
           same ? "bit-identical" : "OUTPUTS DIFFER");
    return same ? 0 : 1;
}
