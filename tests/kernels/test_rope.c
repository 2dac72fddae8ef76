/* test_rope.c - the rope slot of every table against rotations computed in double, in both
 * pair layouts, with partial rotary dims (which must pass through untouched). */
#include "isa_tables.h"

/* One rotation of (a, b) by the angle with cosine c and sine s, in double. */
static void rotate(double *a, double *b, double c, double s)
{
    double a0 = *a, b0 = *b;
    *a = a0 * c - b0 * s;
    *b = b0 * c + a0 * s;
}

static void test_case(const char *isa, const tlm_kernels *k, int32_t n_heads, int32_t head_dim,
                      int32_t rope_dim, bool neox)
{
    int64_t n = (int64_t)n_heads * head_dim;
    int32_t half = rope_dim / 2;
    float *x = buf_new(n + 1, 1), *cs = buf_new(half, 3), *sn = buf_new(half, 5);
    double *want = malloc((size_t)n * sizeof(double));
    fill_uniform(x, n, -3.0f, 3.0f);
    x[n] = -7.0f;
    for (int32_t i = 0; i < half; i++) { /* position 1234, theta 10000 */
        double angle = 1234.0 * pow(10000.0, -2.0 * i / rope_dim);
        cs[i] = (float)cos(angle);
        sn[i] = (float)sin(angle);
    }
    for (int64_t i = 0; i < n; i++)
        want[i] = x[i];
    for (int32_t h = 0; h < n_heads; h++)
        for (int32_t i = 0; i < half; i++) {
            double *base = want + (int64_t)h * head_dim;
            if (neox)
                rotate(&base[i], &base[i + half], cs[i], sn[i]);
            else
                rotate(&base[2 * i], &base[2 * i + 1], cs[i], sn[i]);
        }

    k->rope(x, n_heads, head_dim, rope_dim, cs, sn, neox);
    bool ok = x[n] == -7.0f;
    for (int64_t i = 0; i < n && ok; i++) {
        bool rotated = i % head_dim < rope_dim;
        /* rotated: two products and a sum, each within an ulp of values up to 3 * 2 */
        ok = rotated ? fabs(x[i] - want[i]) <= 8 * FLT_EPSILON * 6 : x[i] == (float)want[i];
    }
    check(ok, "%s rope heads %d head_dim %d rope_dim %d neox %d", isa, n_heads, head_dim, rope_dim,
          neox);
    buf_free(x);
    buf_free(cs);
    buf_free(sn);
    free(want);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    /* {head_dim, rope_dim}: full, Phi-2's 32 of 80, StableLM-2's 16 of 64, odd sizes */
    static const int32_t dims[][2] = {{64, 64}, {128, 128}, {80, 32},  {64, 16},
                                      {6, 6},   {10, 4},    {256, 256}};
    for (size_t d = 0; d < COUNT(dims); d++)
        for (int neox = 0; neox <= 1; neox++) {
            test_case("ref", &ref, 3, dims[d][0], dims[d][1], neox);
            for (int s = 0; s < N_SIMD; s++) {
                if (simd[s].available)
                    test_case(simd[s].name, &simd[s].k, 3, dims[d][0], dims[d][1], neox);
                else
                    n_skip++;
            }
        }
    return finish("rope");
}
