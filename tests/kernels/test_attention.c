/* test_attention.c - attn_head of every SIMD level against the reference, and the reference
 * against a double-precision softmax; odd head sizes and key counts, keys interleaved with
 * other heads (kv_stride > head_dim), unaligned pointers, scores large enough to overflow
 * exp() without the max subtraction. */
#include "isa_tables.h"
#include "quant.h"

typedef struct problem {
    int32_t head_dim, n_keys;
    int64_t kv_stride;
    float scale;
    float *q, *k, *v;
    uint16_t *k16, *v16; /* the same keys and values as an F16 cache */
    void *k8, *v8;       /* q8 problems: as a Q8_0 cache (k, v then hold its values) */
    double *exact, *tol; /* per output dimension */
} problem;

static void problem_new(problem *p, int32_t head_dim, int32_t n_keys, float magnitude, bool q8)
{
    p->head_dim = head_dim;
    p->n_keys = n_keys;
    /* another head's values in between; Q8_0 rows and heads start on 32-element blocks */
    p->kv_stride = q8 ? 2 * (int64_t)head_dim : 2 * (int64_t)head_dim + 3;
    p->scale = 1.0f / sqrtf((float)head_dim);
    p->q = buf_new(head_dim, 1);
    p->k = buf_new(n_keys * p->kv_stride, 3);
    p->v = buf_new(n_keys * p->kv_stride, 5);
    fill_uniform(p->q, head_dim, -magnitude, magnitude);
    fill_uniform(p->k, n_keys * p->kv_stride, -1.0f, 1.0f);
    fill_uniform(p->v, n_keys * p->kv_stride, -1.0f, 1.0f);
    /* Keys and values are F16-representable, so both cache types have the same exact answer. */
    int64_t n_kv = n_keys * p->kv_stride;
    p->k16 = malloc((size_t)n_kv * sizeof(uint16_t));
    p->v16 = malloc((size_t)n_kv * sizeof(uint16_t));
    for (int64_t i = 0; i < n_kv; i++) {
        p->k16[i] = tlm_f32_to_f16(p->k[i]);
        p->v16[i] = tlm_f32_to_f16(p->v[i]);
        p->k[i] = tlm_f16_to_f32(p->k16[i]);
        p->v[i] = tlm_f16_to_f32(p->v16[i]);
    }
    p->k8 = p->v8 = NULL;
    if (q8) { /* the exact answer is that of the values a Q8_0 cache gives back */
        p->k8 = malloc((size_t)(n_kv / 32 * 34));
        p->v8 = malloc((size_t)(n_kv / 32 * 34));
        tlm_quantize_q8_0_ref(p->k8, p->k, n_kv);
        tlm_quantize_q8_0_ref(p->v8, p->v, n_kv);
        tlm_to_f32_q8_0_ref(p->k, p->k8, n_kv);
        tlm_to_f32_q8_0_ref(p->v, p->v8, n_kv);
    }

    /* Error bounds: a score is a float dot product, off by up to
     * ds = eps (head_dim scale sum |q k| + |s|); a weight exp(s - max) / sum then by a
     * relative 2 ds_max + exp's few ulp + n_keys eps from the sum, and each output adds
     * n_keys eps relative of sum p |v| from its own sum. */
    double *s = malloc((size_t)n_keys * sizeof(double)), max = -INFINITY, ds_max = 0, sum = 0;
    for (int32_t j = 0; j < n_keys; j++) {
        double dot = 0, abs_dot = 0;
        for (int32_t d = 0; d < head_dim; d++) {
            double prod = (double)p->q[d] * p->k[j * p->kv_stride + d];
            dot += prod;
            abs_dot += fabs(prod);
        }
        s[j] = dot * p->scale;
        double ds = FLT_EPSILON * ((double)head_dim * p->scale * abs_dot + fabs(s[j]));
        ds_max = ds > ds_max ? ds : ds_max;
        max = s[j] > max ? s[j] : max;
    }
    for (int32_t j = 0; j < n_keys; j++)
        sum += s[j] = exp(s[j] - max);
    double rel = 2 * ds_max + (2.0 * n_keys + 16) * FLT_EPSILON;
    p->exact = calloc((size_t)head_dim, sizeof(double));
    p->tol = calloc((size_t)head_dim, sizeof(double));
    for (int32_t j = 0; j < n_keys; j++)
        for (int32_t d = 0; d < head_dim; d++) {
            double pv = s[j] / sum * p->v[j * p->kv_stride + d];
            p->exact[d] += pv;
            p->tol[d] += fabs(pv) * rel;
        }
    for (int32_t d = 0; d < head_dim; d++)
        p->tol[d] += 1e-30;
    free(s);
}

static void problem_free(problem *p)
{
    buf_free(p->q);
    buf_free(p->k);
    buf_free(p->v);
    free(p->k16);
    free(p->v16);
    free(p->k8);
    free(p->v8);
    free(p->exact);
    free(p->tol);
}

/* out within factor * tol of `near` (or of the exact values when near is NULL); the float
 * after out's end untouched. */
static bool out_ok(const problem *p, const float *out, const float *near, double factor, char *why,
                   size_t why_size)
{
    for (int32_t d = 0; d < p->head_dim; d++) {
        double want = near ? near[d] : p->exact[d];
        if (!(fabs(out[d] - want) <= factor * p->tol[d])) {
            snprintf(why, why_size, "out[%d] = %.9g, expected %.9g, tolerance %.3g", d, out[d],
                     want, factor * p->tol[d]);
            return false;
        }
    }
    if (out[p->head_dim] != -7.0f) {
        snprintf(why, why_size, "wrote past out[head_dim - 1]");
        return false;
    }
    return true;
}

static const tlm_dtype cache_types[] = {TLM_DT_F32, TLM_DT_F16};

static void run(const tlm_kernels *k, const problem *p, tlm_dtype type, float *out, float *scores)
{
    out[p->head_dim] = -7.0f;
    const void *keys = type == TLM_DT_F32   ? (const void *)p->k
                       : type == TLM_DT_F16 ? (const void *)p->k16
                                            : p->k8;
    const void *values = type == TLM_DT_F32   ? (const void *)p->v
                         : type == TLM_DT_F16 ? (const void *)p->v16
                                              : p->v8;
    k->attn_head[type](out, p->q, keys, values, p->kv_stride, p->n_keys, p->head_dim, p->scale,
                       scores);
}

static void test_problem(const tlm_kernels *ref, const isa_table simd[N_SIMD], int32_t head_dim,
                         int32_t n_keys, float magnitude)
{
    problem p;
    bool q8 = head_dim % 32 == 0 && n_keys % 3 == 1; /* some problems as a Q8_0 cache */
    problem_new(&p, head_dim, n_keys, magnitude, q8);
    float *ref_out = buf_new(head_dim + 1, 1), *out = buf_new(head_dim + 1, 3);
    float *scores = buf_new(n_keys, 1);
    char why[160] = "";

    for (size_t c = 0; c < COUNT(cache_types); c++) {
        tlm_dtype type = q8 && cache_types[c] == TLM_DT_F16 ? TLM_DT_Q8_0 : cache_types[c];
        const char *tn = type == TLM_DT_F32 ? "f32" : type == TLM_DT_F16 ? "f16" : "q8_0";
        run(ref, &p, type, ref_out, scores);
        check(out_ok(&p, ref_out, NULL, 1.0, why, sizeof why),
              "ref %s head_dim %d n_keys %d x%g: %s", tn, head_dim, n_keys, magnitude, why);
        for (int i = 0; i < N_SIMD; i++) {
            if (!simd[i].available) {
                n_skip += 2;
                continue;
            }
            run(&simd[i].k, &p, type, out, scores);
            check(out_ok(&p, out, NULL, 1.0, why, sizeof why),
                  "%s %s head_dim %d n_keys %d x%g: %s", simd[i].name, tn, head_dim, n_keys,
                  magnitude, why);
            check(out_ok(&p, out, ref_out, 2.0, why, sizeof why),
                  "%s %s head_dim %d n_keys %d x%g: vs ref: %s", simd[i].name, tn, head_dim, n_keys,
                  magnitude, why);
        }
    }
    buf_free(ref_out);
    buf_free(out);
    buf_free(scores);
    problem_free(&p);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);

    static const int32_t head_dims[] = {1, 7, 8, 9, 16, 17, 32, 64, 80, 96, 128, 129, 256};
    static const int32_t n_keys[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 33, 100, 1000};
    for (size_t a = 0; a < COUNT(head_dims); a++)
        for (size_t b = 0; b < COUNT(n_keys); b++)
            test_problem(&ref, simd, head_dims[a], n_keys[b], 1.0f);

    /* scores near +-1000: exp() overflows unless the max is subtracted first */
    test_problem(&ref, simd, 64, 37, 500.0f);
    test_problem(&ref, simd, 80, 1000, 100.0f);
    /* long contexts */
    test_problem(&ref, simd, 64, 20000, 1.0f);
    test_problem(&ref, simd, 128, 30011, 3.0f);
    return finish("attention");
}
