/* test_vector.c - dot_f32 and axpy_f32 of every SIMD level against the reference, and the
 * reference against double precision; odd lengths, unaligned pointers, writes past the end. */
#include "isa_tables.h"

static const int64_t lengths[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 257, 4099, 100003};

static void test_dot(const tlm_kernels *ref, const isa_table simd[N_SIMD])
{
    for (size_t li = 0; li < COUNT(lengths); li++) {
        int64_t n = lengths[li];
        float *a = buf_new(n, 1), *b = buf_new(n, 3);
        fill_uniform(a, n, -1.0f, 1.0f);
        fill_uniform(b, n, -2.0f, 2.0f);
        double exact = 0, abs_sum = 0;
        for (int64_t i = 0; i < n; i++) {
            exact += (double)a[i] * b[i];
            abs_sum += fabs((double)a[i] * b[i]);
        }
        double tol = (double)n * FLT_EPSILON * abs_sum; /* float summation, any order */
        float want = ref->dot_f32(a, b, n);
        check(fabs(want - exact) <= tol, "ref dot n %lld: %.9g, exact %.9g", (long long)n, want,
              exact);
        for (int s = 0; s < N_SIMD; s++) {
            if (!simd[s].available) {
                n_skip += 2;
                continue;
            }
            float got = simd[s].k.dot_f32(a, b, n);
            check(fabs(got - exact) <= tol, "%s dot n %lld: %.9g, exact %.9g", simd[s].name,
                  (long long)n, got, exact);
            check(fabs(got - want) <= 2 * tol, "%s dot n %lld: %.9g, ref %.9g", simd[s].name,
                  (long long)n, got, want);
        }
        buf_free(a);
        buf_free(b);
    }
}

/* y + a x for every element, within one rounding of each operation, and y[n] untouched. */
static bool axpy_ok(const float *got, const float *y0, float a, const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        double exact = (double)y0[i] + (double)a * x[i];
        double tol = 2 * FLT_EPSILON * (fabs(y0[i]) + fabs((double)a * x[i])) + 1e-38;
        if (!(fabs(got[i] - exact) <= tol)) return false;
    }
    return got[n] == y0[n];
}

static void test_axpy(const tlm_kernels *ref, const isa_table simd[N_SIMD])
{
    for (size_t li = 0; li < COUNT(lengths); li++) {
        int64_t n = lengths[li];
        float *x = buf_new(n, 5), *y0 = buf_new(n + 1, 1), *y = buf_new(n + 1, 1);
        fill_uniform(x, n, -1.0f, 1.0f);
        fill_uniform(y0, n + 1, -1.0f, 1.0f);
        const float a = -0.7f;
        memcpy(y, y0, (size_t)(n + 1) * sizeof *y);
        ref->axpy_f32(y, a, x, n);
        check(axpy_ok(y, y0, a, x, n), "ref axpy n %lld", (long long)n);
        for (int s = 0; s < N_SIMD; s++) {
            if (!simd[s].available) {
                n_skip++;
                continue;
            }
            memcpy(y, y0, (size_t)(n + 1) * sizeof *y);
            simd[s].k.axpy_f32(y, a, x, n);
            check(axpy_ok(y, y0, a, x, n), "%s axpy n %lld", simd[s].name, (long long)n);
        }
        buf_free(x);
        buf_free(y0);
        buf_free(y);
    }
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    test_dot(&ref, simd);
    test_axpy(&ref, simd);
    return finish("vector");
}
