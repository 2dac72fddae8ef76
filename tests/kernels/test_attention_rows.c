/* test_attention_rows.c - attn_rows (a block of queries sharing one KV head, each seeing its
 * own key range) of every SIMD level that has it, against the reference attn_head run per
 * query; and that a query's result is bit-identical alone and inside any block. */
#include "isa_tables.h"
#include "quant.h"

enum { MAX_SPAN = 1200 };

typedef struct block {
    int32_t head_dim, nq, span;
    int64_t kv_stride;
    float *q, *k, *v; /* q: nq rows of head_dim; k, v: span rows kv_stride apart */
    uint16_t *k16, *v16;
    void *k8, *v8; /* as a Q8_0 cache when head_dim is a multiple of 32, else NULL */
    int32_t lo[TLM_ATTN_ROWS], hi[TLM_ATTN_ROWS];
} block;

static void block_new(block *b, int32_t head_dim, int32_t nq, int32_t span, bool causal)
{
    b->head_dim = head_dim;
    b->nq = nq;
    b->span = span;
    bool q8 = head_dim % 32 == 0; /* Q8_0 rows and heads start on 32-element blocks */
    b->kv_stride = 3 * (int64_t)head_dim + (q8 ? 0 : 5); /* other heads in between */
    int64_t n_kv = span * b->kv_stride;
    b->q = buf_new(nq * head_dim, 1);
    b->k = buf_new(n_kv, 2);
    b->v = buf_new(n_kv, 3);
    fill_uniform(b->q, nq * head_dim, -2.0f, 2.0f);
    fill_uniform(b->k, n_kv, -1.0f, 1.0f);
    fill_uniform(b->v, n_kv, -1.0f, 1.0f);
    b->k16 = malloc((size_t)n_kv * sizeof(uint16_t));
    b->v16 = malloc((size_t)n_kv * sizeof(uint16_t));
    for (int64_t i = 0; i < n_kv; i++) {
        b->k16[i] = tlm_f32_to_f16(b->k[i]);
        b->v16[i] = tlm_f32_to_f16(b->v[i]);
    }
    b->k8 = q8 ? malloc((size_t)(n_kv / 32 * 34)) : NULL;
    b->v8 = q8 ? malloc((size_t)(n_kv / 32 * 34)) : NULL;
    if (q8) {
        tlm_quantize_q8_0_ref(b->k8, b->k, n_kv);
        tlm_quantize_q8_0_ref(b->v8, b->v, n_kv);
    }
    for (int i = 0; i < nq; i++) {
        if (causal) { /* a prompt's tokens: each sees one more key, from a common start */
            b->lo[i] = 0;
            b->hi[i] = span - nq + i + 1;
        } else { /* sliding windows: any non-empty range */
            int32_t a = (int32_t)(rng_next() % (uint64_t)span),
                    c = (int32_t)(rng_next() % (uint64_t)span);
            b->lo[i] = a < c ? a : c;
            b->hi[i] = (a < c ? c : a) + 1;
        }
    }
    if (!causal) { /* the block's span is reached by someone */
        b->lo[0] = 0;
        b->hi[nq - 1] = span;
    }
}

static void block_free(block *b)
{
    buf_free(b->q);
    buf_free(b->k);
    buf_free(b->v);
    free(b->k16);
    free(b->v16);
    free(b->k8);
    free(b->v8);
}

static const void *cache_of(tlm_dtype type, const float *f, const uint16_t *h, const void *q8)
{
    return type == TLM_DT_F32 ? (const void *)f : type == TLM_DT_F16 ? (const void *)h : q8;
}

/* out rows (head_dim + 1 floats apart, a sentinel after each) by attn_rows of k for the
 * queries [i0, i0 + nq) of the block. */
static void run_rows(const tlm_kernels *k, const block *b, tlm_dtype type, int i0, int nq,
                     float *out, float *scratch)
{
    const float *qr[TLM_ATTN_ROWS];
    float *orow[TLM_ATTN_ROWS];
    int32_t lo[TLM_ATTN_ROWS], hi[TLM_ATTN_ROWS];
    for (int i = 0; i < nq; i++) {
        qr[i] = b->q + (i0 + i) * b->head_dim;
        orow[i] = out + (int64_t)(i0 + i) * (b->head_dim + 1);
        orow[i][b->head_dim] = -7.0f;
        lo[i] = b->lo[i0 + i];
        hi[i] = b->hi[i0 + i];
    }
    const void *keys = cache_of(type, b->k, b->k16, b->k8);
    const void *values = cache_of(type, b->v, b->v16, b->v8);
    k->attn_rows[type](orow, qr, nq, lo, hi, keys, values, b->kv_stride, b->head_dim,
                       1.0f / sqrtf((float)b->head_dim), scratch);
}

static void test_block(const tlm_kernels *ref, const isa_table simd[N_SIMD], int32_t head_dim,
                       int32_t nq, int32_t span, bool causal)
{
    block b;
    block_new(&b, head_dim, nq, span, causal);
    int64_t row = head_dim + 1;
    float *want = buf_new(nq * row, 1), *out = buf_new(nq * row, 2), *alone = buf_new(nq * row, 3);
    float *scratch = buf_new(tlm_attn_rows_scratch(span, head_dim), 1);
    float scale = 1.0f / sqrtf((float)head_dim);
    static const tlm_dtype types[] = {TLM_DT_F32, TLM_DT_F16, TLM_DT_Q8_0};
    static const char *names[] = {"f32", "f16", "q8_0"};
    for (int t = 0; t < 3; t++) {
        tlm_dtype type = types[t];
        if (type == TLM_DT_Q8_0 && !b.k8) continue;
        const void *keys = cache_of(type, b.k, b.k16, b.k8);
        const void *values = cache_of(type, b.v, b.v16, b.v8);
        for (int i = 0; i < nq; i++) {
            size_t off = tlm_kv_bytes(type, (uint64_t)b.lo[i] * (uint64_t)b.kv_stride);
            ref->attn_head[type](want + i * row, b.q + i * head_dim, (const char *)keys + off,
                                 (const char *)values + off, b.kv_stride, b.hi[i] - b.lo[i],
                                 head_dim, scale, scratch);
        }
        for (int s = 0; s < N_SIMD; s++) {
            if (!simd[s].available || !simd[s].k.attn_rows[type]) {
                n_skip++;
                continue;
            }
            run_rows(&simd[s].k, &b, type, 0, nq, out, scratch);
            for (int i = 0; i < nq; i++) /* alone: the same bits */
                run_rows(&simd[s].k, &b, type, i, 1, alone, scratch);
            double worst = 0;
            bool same = true, sentinel = true;
            for (int i = 0; i < nq; i++) {
                for (int32_t d = 0; d < head_dim; d++) {
                    double e = fabs((double)out[i * row + d] - want[i * row + d]);
                    worst = e > worst ? e : worst;
                    same &= memcmp(&out[i * row + d], &alone[i * row + d], 4) == 0;
                }
                sentinel &= out[i * row + head_dim] == -7.0f;
            }
            /* outputs are convex mixes of values in [-1, 1]; float sums over <= span keys */
            double tol = 1e-6 * (4 + sqrt((double)span));
            check(worst <= tol, "%s %s head_dim %d nq %d span %d %s: max diff %.3g > %.3g",
                  simd[s].name, names[t], head_dim, nq, span, causal ? "causal" : "ranges", worst,
                  tol);
            check(same, "%s head_dim %d nq %d: a query's result depends on its block", simd[s].name,
                  head_dim, nq);
            check(sentinel, "%s head_dim %d nq %d: wrote past a row", simd[s].name, head_dim, nq);
        }
    }
    buf_free(want);
    buf_free(out);
    buf_free(alone);
    buf_free(scratch);
    block_free(&b);
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);

    static const int32_t head_dims[] = {8, 16, 40, 64, 80, 96, 128, 256};
    static const int32_t nqs[] = {1, 2, 5, 6, 7, 8, 16, 17, 33, 64};
    static const int32_t spans[] = {1, 3, 4, 5, 64, 301, MAX_SPAN};
    for (size_t a = 0; a < COUNT(head_dims); a++)
        for (size_t n = 0; n < COUNT(nqs); n++)
            for (size_t s = 0; s < COUNT(spans); s++) {
                if (spans[s] >= nqs[n])
                    test_block(&ref, simd, head_dims[a], nqs[n], spans[s], true);
                test_block(&ref, simd, head_dims[a], nqs[n], spans[s], false);
            }
    return finish("attention_rows");
}
