/* test_activation.c - silu_mul, gelu_tanh_mul and gelu_tanh of every SIMD level against the
 * reference, and the reference against double precision: odd lengths, unaligned buffers,
 * and the edges of exp (tiny, huge, subnormal, NaN inputs). */
#include "isa_tables.h"

enum { SILU_MUL, GELU_MUL, GELU };
static const char *const names[] = {"silu_mul", "gelu_tanh_mul", "gelu_tanh"};

/* act(x) * up in double. GELU's 0.5 x (1 + tanh(u)) is written x / (1 + exp(-2u)), the same
 * function without the cancellation of 1 + tanh(u) for x << 0. */
static double exact(int op, double x, double up)
{
    if (op == SILU_MUL) return x / (1 + exp(-x)) * up;
    double u = 0.7978845608028654 * (x + 0.044715 * x * x * x);
    return x / (1 + exp(-2 * u)) * (op == GELU ? 1 : up);
}

static void run(const tlm_kernels *k, int op, float *gate, const float *up, int64_t n)
{
    if (op == SILU_MUL)
        k->silu_mul(gate, up, n);
    else if (op == GELU_MUL)
        k->gelu_tanh_mul(gate, up, n);
    else
        k->gelu_tanh(gate, n);
}

/* Every output within a few float roundings of the exact value (relative to it and to
 * |x up|, the reference's tanh being off by an ulp of 1), NaN for NaN inputs; out[n] stays. */
static bool out_ok(int op, const float *out, const float *x, const float *up, int64_t n, char *why,
                   size_t why_size)
{
    for (int64_t i = 0; i < n; i++) {
        double u = op == GELU ? 1 : up[i], want = exact(op, x[i], u);
        double tol = 2 * FLT_EPSILON * (fabs(want) + fabs(x[i] * u)) + FLT_TRUE_MIN;
        bool ok = isnan(want)            ? isnan(out[i])
                  : fabs(want) > FLT_MAX ? out[i] == (float)want /* overflows to +-Inf */
                                         : fabs(out[i] - want) <= tol;
        if (!ok) {
            snprintf(why, why_size, "x %.9g up %.9g: %.9g, exact %.9g", x[i], u, out[i], want);
            return false;
        }
    }
    if (out[n] != -7.0f) snprintf(why, why_size, "wrote past the end");
    return out[n] == -7.0f;
}

static void test_case(const tlm_kernels *ref, const isa_table simd[N_SIMD], const float *x,
                      const float *up, int64_t n)
{
    float *out = buf_new(n + 1, 3);
    char why[160] = "";
    for (int op = 0; op < 3; op++) {
        for (int s = -1; s < N_SIMD; s++) {
            const tlm_kernels *k = s < 0 ? ref : &simd[s].k;
            if (s >= 0 && !simd[s].available) {
                n_skip++;
                continue;
            }
            memcpy(out, x, (size_t)n * sizeof *out);
            out[n] = -7.0f;
            run(k, op, out, up, n);
            check(out_ok(op, out, x, up, n, why, sizeof why), "%s %s n %lld: %s",
                  s < 0 ? "ref" : simd[s].name, names[op], (long long)n, why);
        }
    }
    buf_free(out);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);

    static const int64_t lengths[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 257, 4099};
    for (size_t li = 0; li < COUNT(lengths); li++) {
        int64_t n = lengths[li];
        float *x = buf_new(n, 1), *up = buf_new(n, 5);
        fill_uniform(x, n, -12.0f, 12.0f);
        fill_uniform(up, n, -2.0f, 2.0f);
        test_case(&ref, simd, x, up, n);
        buf_free(x);
        buf_free(up);
    }

    static const float edges[] = {0.0f,   1e-30f, 1e-45f, 1e-3f, 0.5f,  5.0f,   15.0f,
                                  20.0f,  40.0f,  50.0f,  87.0f, 88.5f, 89.0f,  100.0f,
                                  104.0f, 200.0f, 1e4f,   1e10f, 1e30f, FLT_MAX};
    enum { N_EDGE = 2 * COUNT(edges) + 1 };
    float *x = buf_new(N_EDGE, 1), *up = buf_new(N_EDGE, 5);
    for (size_t i = 0; i < COUNT(edges); i++) {
        x[2 * i] = edges[i];
        x[2 * i + 1] = -edges[i];
    }
    x[N_EDGE - 1] = NAN;
    for (int i = 0; i < N_EDGE; i++)
        up[i] = 1.5f;
    test_case(&ref, simd, x, up, N_EDGE);
    buf_free(x);
    buf_free(up);
    return finish("activation");
}
