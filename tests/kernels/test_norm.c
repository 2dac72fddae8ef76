/* test_norm.c - rmsnorm and layernorm of every SIMD level against the reference, and the
 * reference against double precision: odd lengths, unaligned and in-place buffers, NULL
 * weight and bias, inputs whose mean dwarfs their spread. */
#include "isa_tables.h"

static const int64_t lengths[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257, 2048, 4099};

typedef struct problem {
    bool layer;
    int64_t n;
    float eps;
    float *x, *w, *b; /* w, b may be NULL */
    double *exact, *tol;
} problem;

/* Exact outputs in double and float error bounds: the sums are off by up to n eps of their
 * magnitude, which reaches the output through the scale 1/sqrt(var + eps) (half the relative
 * error) and, for LayerNorm, through the mean subtracted from every element. */
static void problem_new(problem *p, bool layer, int64_t n, bool with_w, bool with_b)
{
    p->layer = layer;
    p->n = n;
    p->eps = 1e-5f;
    p->x = buf_new(n, 1);
    p->w = with_w ? buf_new(n, 3) : NULL;
    p->b = with_b ? buf_new(n, 5) : NULL;
    fill_uniform(p->x, n, layer ? 4.0f : -2.0f, layer ? 6.0f : 2.0f);
    if (p->w) fill_uniform(p->w, n, -1.5f, 1.5f);
    if (p->b) fill_uniform(p->b, n, -1.0f, 1.0f);

    double mean = 0, abs_mean = 0, var = 0, dn = (double)n;
    for (int64_t i = 0; i < n; i++) {
        mean += p->x[i];
        abs_mean += fabs(p->x[i]);
    }
    mean = layer ? mean / dn : 0;
    abs_mean /= dn;
    for (int64_t i = 0; i < n; i++)
        var += (p->x[i] - mean) * (p->x[i] - mean);
    var /= dn;
    double inv = 1 / sqrt(var + p->eps), e = FLT_EPSILON;
    double d_mean = layer ? (dn + 2) * e * abs_mean : 0;
    double rel = (dn + 16) * e + (layer ? d_mean * d_mean / (var + p->eps) : 0);
    p->exact = malloc((size_t)n * sizeof(double));
    p->tol = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double w = p->w ? p->w[i] : 1, b = p->b ? p->b[i] : 0, c = p->x[i] - mean;
        p->exact[i] = c * inv * w + b;
        p->tol[i] =
            inv * fabs(w) * (fabs(c) * rel + d_mean + e * fabs(p->x[i])) + 2 * e * fabs(b) + 1e-37;
    }
}

static void problem_free(problem *p)
{
    buf_free(p->x);
    buf_free(p->w);
    buf_free(p->b);
    free(p->exact);
    free(p->tol);
}

/* Runs the slot into out (out == x when in_place, on a copy of x). */
static void run(const tlm_kernels *k, const problem *p, float *out, bool in_place)
{
    const float *x = p->x;
    if (in_place) {
        memcpy(out, p->x, (size_t)p->n * sizeof *out);
        x = out;
    }
    if (p->layer)
        k->layernorm(out, x, p->w, p->b, p->n, p->eps);
    else
        k->rmsnorm(out, x, p->w, p->n, p->eps);
}

static bool out_ok(const problem *p, const float *out, const float *near, double factor)
{
    for (int64_t i = 0; i < p->n; i++) {
        double want = near ? near[i] : p->exact[i];
        if (!(fabs(out[i] - want) <= factor * p->tol[i])) {
            printf("  out[%lld] = %.9g, expected %.9g, tolerance %.3g\n", (long long)i, out[i],
                   want, factor * p->tol[i]);
            return false;
        }
    }
    return out[p->n] == -7.0f;
}

static void test_problem(const tlm_kernels *ref, const isa_table simd[N_SIMD], bool layer,
                         int64_t n, bool with_w, bool with_b)
{
    problem p;
    problem_new(&p, layer, n, with_w, with_b);
    float *want = buf_new(n + 1, 7), *out = buf_new(n + 1, 9);
    want[n] = out[n] = -7.0f;
    const char *name = layer ? "layernorm" : "rmsnorm";
    run(ref, &p, want, false);
    check(out_ok(&p, want, NULL, 1.0), "ref %s n %lld w %d b %d", name, (long long)n, with_w,
          with_b);
    run(ref, &p, out, true);
    check(out_ok(&p, out, NULL, 1.0), "ref %s n %lld w %d b %d: in place", name, (long long)n,
          with_w, with_b);
    for (int s = 0; s < N_SIMD; s++) {
        if (!simd[s].available) {
            n_skip += 3;
            continue;
        }
        run(&simd[s].k, &p, out, false);
        check(out_ok(&p, out, NULL, 1.0), "%s %s n %lld w %d b %d", simd[s].name, name,
              (long long)n, with_w, with_b);
        check(out_ok(&p, out, want, 2.0), "%s %s n %lld w %d b %d: vs ref", simd[s].name, name,
              (long long)n, with_w, with_b);
        run(&simd[s].k, &p, out, true);
        check(out_ok(&p, out, NULL, 1.0), "%s %s n %lld w %d b %d: in place", simd[s].name, name,
              (long long)n, with_w, with_b);
    }
    buf_free(want);
    buf_free(out);
    problem_free(&p);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    for (size_t li = 0; li < COUNT(lengths); li++)
        for (int with_w = 0; with_w <= 1; with_w++) {
            test_problem(&ref, simd, false, lengths[li], with_w, false);
            for (int with_b = 0; with_b <= 1; with_b++)
                test_problem(&ref, simd, true, lengths[li], with_w, with_b);
        }
    return finish("norm");
}
