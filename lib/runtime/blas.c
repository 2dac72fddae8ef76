/* blas.c - the optional OpenBLAS path for prefill projections with float weights
 * (tlm_context_params.blas), kept for comparison with the engine's own GEMM.
 *
 * libopenblas is opened at run time (dlopen) the first time a context asks for it, so
 * libtinylm neither links nor needs it otherwise. OpenBLAS picks its kernels once, as it
 * loads, from CPUID or from OPENBLAS_CORETYPE; the library never sets that variable (it would
 * change the caller's environment), so which core runs is the caller's choice (tinylm.h,
 * tlm_context_params.blas). Its thread count is set through its own API.
 * F16 and BF16 weights are widened to F32 a block of rows at a time, as BLAS backends do;
 * BF16 ones multiply x rounded to bf16, as every BF16 path does (forward.c). */
#include <dlfcn.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>

#include "context.h"

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111, CBLAS_TRANS = 112 };

typedef void (*sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);

static struct {
    sgemm_fn sgemm;
    void (*set_threads)(int);
    char why[200];
} blas;

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void open_blas(void)
{
    static const char *names[] = {"libopenblas.so.0", "libopenblas.so"};
    void *h = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && !h; i++)
        h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(blas.why, sizeof blas.why,
                 "cannot open libopenblas.so.0 (%s); install "
                 "libopenblas0",
                 dlerror());
        return;
    }
    blas.sgemm = (sgemm_fn)dlsym(h, "cblas_sgemm");
    blas.set_threads = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    if (!blas.sgemm) snprintf(blas.why, sizeof blas.why, "libopenblas has no cblas_sgemm");
}

const char *tlm_blas_open(void)
{
    pthread_once(&once, open_blas);
    return blas.sgemm ? NULL : blas.why;
}

bool tlm_blas_takes(const tlm_context *ctx, const tlm_proj *p, int64_t n_tok)
{
    if (!ctx->blas || n_tok < TLM_BLAS_MIN_TOKENS) return false;
    for (int i = 0; i < p->n_parts; i++) {
        tlm_type t = p->part[i].type;
        if (t != TLM_TYPE_F32 && t != TLM_TYPE_F16 && t != TLM_TYPE_BF16) return false;
        if (p->part[i].cols > INT32_MAX || p->part[i].rows > INT32_MAX) return false;
    }
    return n_tok <= INT32_MAX;
}

/* y[t][at + r] = part r . x[t] by sgemm: F32 rows as stored, in one call per part; F16/BF16
 * rows (gathered first when interleaved) widened TLM_BLAS_ROWS at a time into ctx->blas_buf
 * (split over the threads). */
void tlm_blas_project(const tlm_context *ctx, const tlm_proj *p, const float *x, int64_t ldx,
                      const float *xr, int64_t n_tok, float *y, int64_t ldy)
{
    if (blas.set_threads) blas.set_threads(ctx->n_threads);
    int64_t at = 0;
    for (int i = 0; i < p->n_parts; i++) {
        const tlm_matrix *w = &p->part[i];
        int k = (int)w->cols;
        const bool bf = w->type == TLM_TYPE_BF16; /* multiplies x rounded to bf16 (forward.c) */
        int64_t step = w->type == TLM_TYPE_F32 ? w->rows : TLM_BLAS_ROWS;
        for (int64_t r0 = 0; r0 < w->rows; r0 += step) {
            int64_t nr = w->rows - r0 < step ? w->rows - r0 : step;
            const float *wf;
            if (w->type == TLM_TYPE_F32) {
                wf = (const float *)((const uint8_t *)w->data + r0 * w->row_bytes);
            } else {
                float *gather = ctx->blas_buf + TLM_BLAS_ROWS * w->cols; /* a row each */
#pragma omp parallel for schedule(static) num_threads(ctx->n_threads)
                for (int64_t r = 0; r < nr; r++)
                    ctx->k->to_f32[w->type](ctx->blas_buf + r * w->cols,
                                            tlm_matrix_row(w, r0 + r, gather + r * w->cols),
                                            w->cols);
                wf = ctx->blas_buf;
            }
            blas.sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_TRANS, (int)n_tok, (int)nr, k, 1.0f,
                       bf ? xr : x, bf ? k : (int)ldx, wf,
                       (int)(w->type == TLM_TYPE_F32 ? (int64_t)(w->row_bytes / 4) : w->cols), 0.0f,
                       y + at + r0, (int)ldy);
        }
        at += w->rows;
    }
}
