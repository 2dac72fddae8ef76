/* test_embedding.c - the calls an embedding program needs, on stories260K: cancellation
 * between layers (a 512-token prompt stops within one layer; the same context then gives the
 * logits of a fresh one), the load-progress callback and its cancel, the state in a memory
 * buffer, per-token logits selection, final hidden states, the thread count, and the status
 * and message of a buffer that is too small. Expectations come from plain tlm_context_eval on
 * fresh contexts and from tlm_context_save's file, never from the calls under test. */
#include <math.h>
#include <unistd.h>

#include "harness.h"
#include "tinylm.h"

enum { N = 512 };

typedef struct counter {
    int calls, stop_at;
} counter;

static bool stop_at(void *user)
{
    counter *c = user;
    return ++c->calls >= c->stop_at;
}

static tlm_context *fresh(const tlm_model *m, int32_t n_batch, int32_t n_threads)
{
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = N;
    cp.n_batch = n_batch;
    cp.n_threads = n_threads;
    cp.mem_budget = TLM_MEM_UNCHECKED;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) printf("context: %s\n", err.message);
    return ctx;
}

static bool same(const float *a, const float *b, int64_t n)
{
    return a && b && memcmp(a, b, (size_t)n * sizeof *a) == 0;
}

static void test_cancel(const tlm_model *m, const int32_t *ids, const float *want)
{
    int32_t vocab = tlm_model_get_info(m)->n_vocab, layers = tlm_model_get_info(m)->n_layers;
    /* one chunk of 512: stop when the third layer is about to start */
    tlm_context *ctx = fresh(m, N, 0);
    counter c = {0, 3};
    tlm_context_set_abort(ctx, stop_at, &c);
    tlm_status st = tlm_context_eval(ctx, ids, N, NULL);
    CHECK(st == TLM_ERR_CANCELLED, "512-token prompt cancelled: status %d (%s)", st,
          tlm_context_error(ctx));
    CHECK(c.calls == 3, "no layer ran after the callback said stop: %d checks", c.calls);
    int32_t n_tok = -1;
    const int32_t *hist = tlm_context_tokens(ctx, &n_tok);
    CHECK(tlm_context_n_past(ctx) == 0 && n_tok == 0 && hist[0] == -1 && !tlm_context_logits(ctx),
          "the cancelled chunk left nothing: n_past %d", tlm_context_n_past(ctx));
    CHECK(strstr(tlm_context_error(ctx), "cancel") != NULL, "message: %s", tlm_context_error(ctx));
    tlm_context_set_abort(ctx, NULL, NULL);
    st = tlm_context_eval(ctx, ids, N, NULL);
    CHECK(st == TLM_OK && same(tlm_context_logits(ctx), want, vocab),
          "the same context then gives a fresh context's logits");
    tlm_context_free(ctx);

    /* chunks of 256: stop in the second chunk; the first stays and the rest continues it */
    ctx = fresh(m, 256, 0);
    c = (counter){0, layers + 2};
    tlm_context_set_abort(ctx, stop_at, &c);
    st = tlm_context_eval(ctx, ids, N, NULL);
    CHECK(st == TLM_ERR_CANCELLED && tlm_context_n_past(ctx) == 256 && c.calls == layers + 2,
          "second chunk cancelled: the first (256) kept, %d checks", c.calls);
    tlm_context_set_abort(ctx, NULL, NULL);
    st = tlm_context_eval(ctx, ids + 256, N - 256, NULL);
    CHECK(st == TLM_OK && same(tlm_context_logits(ctx), want, vocab),
          "going on from n_past gives a fresh context's logits");
    tlm_context_free(ctx);
}

typedef struct progress_log {
    int n;
    float last;
    bool monotonic, in_range;
    float cancel_after; /* cancel at the first report above this (2: never) */
} progress_log;

static bool on_progress(void *user, float f)
{
    progress_log *p = user;
    if (p->n > 0 && f < p->last) p->monotonic = false;
    if (!(f >= 0.0f && f <= 1.0f)) p->in_range = false;
    p->n++;
    p->last = f;
    return !(f > p->cancel_after);
}

static void test_progress(const char *path)
{
    tlm_model_params mp = tlm_model_default_params();
    progress_log log = {0, 0, true, true, 2.0f};
    mp.progress = on_progress;
    mp.progress_user = &log;
    tlm_model *m = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_model_load(path, &mp, &m, &err);
    CHECK(st == TLM_OK && log.n >= 3 && log.monotonic && log.in_range && log.last == 1.0f,
          "progress: %d reports, increasing, ending at 1 (%s)", log.n, err.message);
    int full = log.n;
    tlm_model_free(m);
    /* cancelled half way, while matrices are rearranged */
    log = (progress_log){0, 0, true, true, 0.5f};
    m = (tlm_model *)&log; /* must come back NULL */
    st = tlm_model_load(path, &mp, &m, &err);
    CHECK(st == TLM_ERR_CANCELLED && m == NULL && err.status == TLM_ERR_CANCELLED && log.n < full &&
              strstr(err.message, "cancel"),
          "progress cancel mid-load: status %d after %d of %d reports: %s", st, log.n, full,
          err.message);
    log = (progress_log){0, 0, true, true, -1.0f};
    st = tlm_model_load(path, &mp, &m, &err);
    CHECK(st == TLM_ERR_CANCELLED && m == NULL && log.n == 1, "cancel at the first report");
}

static void test_state_buffer(const tlm_model *m, const int32_t *ids, const char *dir)
{
    int32_t vocab = tlm_model_get_info(m)->n_vocab;
    tlm_context *a = fresh(m, 64, 0), *b = fresh(m, 64, 0);
    tlm_error err = {0};
    tlm_context_eval(a, ids, 100, NULL);
    size_t need = 0;
    tlm_status st = tlm_context_save_buffer(a, NULL, 0, &need, &err);
    char want_msg[64];
    snprintf(want_msg, sizeof want_msg, "%zu bytes", need);
    CHECK(st == TLM_ERR_BUFFER_TOO_SMALL && need > 0 && err.status == st &&
              strstr(err.message, want_msg),
          "size query: TLM_ERR_BUFFER_TOO_SMALL naming %zu bytes: %s", need, err.message);
    uint8_t *buf = malloc(need);
    size_t got = 0;
    st = tlm_context_save_buffer(a, buf, need - 1, &got, &err);
    CHECK(st == TLM_ERR_BUFFER_TOO_SMALL && got == need, "one byte short: still the size");
    st = tlm_context_save_buffer(a, buf, need, &got, &err);
    CHECK(st == TLM_OK && got == need, "saved %zu bytes", got);
    /* the same bytes as the file */
    char path[600];
    snprintf(path, sizeof path, "%s/state.bin", dir);
    tlm_context_save(a, path, &err);
    FILE *fp = fopen(path, "rb");
    uint8_t *file = malloc(need + 1);
    size_t n_file = fp ? fread(file, 1, need + 1, fp) : 0;
    if (fp) fclose(fp);
    remove(path);
    CHECK(n_file == need && memcmp(file, buf, need) == 0, "buffer equals the file (%zu bytes)",
          n_file);
    st = tlm_context_load_buffer(b, buf, need, &err);
    CHECK(st == TLM_OK && tlm_context_n_past(b) == 100 &&
              same(tlm_context_logits(b), tlm_context_logits(a), vocab),
          "loaded from the buffer: %s", err.message);
    tlm_context_eval(a, ids + 100, 20, NULL);
    tlm_context_eval(b, ids + 100, 20, NULL);
    CHECK(same(tlm_context_logits(b), tlm_context_logits(a), vocab),
          "after loading, evaluation goes on as in the saved context");
    buf[16] ^= 0x55; /* the model fingerprint */
    st = tlm_context_load_buffer(b, buf, need, &err);
    CHECK(st != TLM_OK && tlm_context_n_past(b) == 0, "a damaged buffer is refused: %s",
          err.message);
    st = tlm_context_load_buffer(b, buf, 10, &err);
    CHECK(st == TLM_ERR_FORMAT, "a truncated buffer: TLM_ERR_FORMAT: %s", err.message);
    free(file);
    free(buf);
    tlm_context_free(a);
    tlm_context_free(b);
}

static void test_outputs(const tlm_model *m, const int32_t *ids)
{
    enum { T = 40 };
    int32_t vocab = tlm_model_get_info(m)->n_vocab, dim = tlm_model_n_embd(m);
    CHECK(dim == tlm_model_get_info(m)->dim, "n_embd is dim (%d)", dim);
    float *all = malloc(sizeof(float) * T * (size_t)vocab);
    tlm_context *ctx = fresh(m, 16, 0);
    tlm_context_eval(ctx, ids, T, all); /* the expectation: every row, plain eval */
    tlm_context_free(ctx);

    bool mask[T] = {0};
    int sel[] = {0, 5, 17, 18, 31};
    for (size_t i = 0; i < COUNT(sel); i++)
        mask[sel[i]] = true;
    float *rows = malloc(sizeof(float) * COUNT(sel) * (size_t)vocab);
    float *hidden = malloc(sizeof(float) * T * (size_t)dim);
    tlm_eval_outputs out = {.logits_mask = mask, .logits = rows, .hidden = hidden};
    ctx = fresh(m, 16, 0);
    tlm_status st = tlm_context_eval_outputs(ctx, ids, T, &out);
    bool ok = st == TLM_OK;
    float worst = 0;
    for (size_t i = 0; i < COUNT(sel); i++)
        for (int32_t v = 0; v < vocab; v++) {
            float d = fabsf(rows[i * (size_t)vocab + (size_t)v] -
                            all[(size_t)sel[i] * (size_t)vocab + (size_t)v]);
            worst = d > worst ? d : worst;
        }
    CHECK(ok && worst <= 1e-5f, "selected rows equal plain eval's rows (max diff %g)", worst);
    CHECK(!tlm_context_logits(ctx), "last token not selected: no last logits");
    bool finite = true;
    for (int64_t i = 0; i < (int64_t)T * dim; i++)
        finite = finite && isfinite(hidden[i]);
    CHECK(finite, "hidden states are finite");
    /* the hidden states do not depend on how the call is chunked */
    float *hidden2 = malloc(sizeof(float) * T * (size_t)dim);
    tlm_context_free(ctx);
    ctx = fresh(m, 7, 0);
    out = (tlm_eval_outputs){.hidden = hidden2};
    st = tlm_context_eval_outputs(ctx, ids, T, &out);
    worst = 0;
    for (int64_t i = 0; i < (int64_t)T * dim; i++) {
        float d = fabsf(hidden[i] - hidden2[i]);
        worst = d > worst ? d : worst;
    }
    CHECK(st == TLM_OK && worst <= 1e-5f, "hidden states with chunks of 7 (max diff %g)", worst);
    CHECK(same(tlm_context_logits(ctx), all + (size_t)(T - 1) * (size_t)vocab, vocab) ||
              tlm_context_logits(ctx) != NULL,
          "no mask: the last token's logits are there");
    tlm_context_free(ctx);
    free(hidden2);
    free(hidden);
    free(rows);
    free(all);
}

static void test_threads(const tlm_model *m, const int32_t *ids)
{
    int32_t vocab = tlm_model_get_info(m)->n_vocab;
    tlm_context *a = fresh(m, 64, 2), *b = fresh(m, 64, 2);
    CHECK(tlm_context_n_threads(a) == 2, "created with 2 threads");
    CHECK(tlm_context_set_threads(a, 1) == TLM_OK && tlm_context_n_threads(a) == 1, "set to 1");
    tlm_context_eval(a, ids, 80, NULL);
    tlm_context_eval(b, ids, 80, NULL);
    CHECK(same(tlm_context_logits(a), tlm_context_logits(b), vocab), "1 and 2 threads: same bits");
    CHECK(tlm_context_set_threads(a, 3) == TLM_ERR_ARG && strstr(tlm_context_error(a), "[1, 2]"),
          "above the created count: %s", tlm_context_error(a));
    CHECK(tlm_context_set_threads(a, 0) == TLM_ERR_ARG, "0 refused");
    CHECK(tlm_context_set_threads(a, 2) == TLM_OK, "back to 2");
    tlm_context_free(a);
    tlm_context_free(b);
}

int main(void)
{
    const char *shared = getenv("TLM_SHARED");
    char stories[4096], dir[] = "/tmp/tlm-embedding-XXXXXX";
    snprintf(stories, sizeof stories, "%s/models/stories260K.bin", shared ? shared : "../shared");
    if (access(stories, R_OK) != 0 || !mkdtemp(dir)) {
        MISSING(1, "no %s", stories);
        return finish("embedding");
    }
    tlm_model *m = NULL;
    tlm_error err = {0};
    if (tlm_model_load(stories, NULL, &m, &err) != TLM_OK) {
        CHECK(0, "stories260K: %s", err.message);
        return finish("embedding");
    }
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = 1 + (i * 37) % 500;
    float *want = malloc(sizeof(float) * (size_t)tlm_model_get_info(m)->n_vocab);
    tlm_context *ctx = fresh(m, 256, 0);
    tlm_context_eval(ctx, ids, N, NULL);
    memcpy(want, tlm_context_logits(ctx), sizeof(float) * (size_t)tlm_model_get_info(m)->n_vocab);
    tlm_context_free(ctx);

    test_cancel(m, ids, want);
    test_state_buffer(m, ids, dir);
    test_outputs(m, ids);
    test_threads(m, ids);
    /* a model whose matrices are rearranged at load (Q8_0): progress reports per matrix */
    char q8[600];
    snprintf(q8, sizeof q8, "%s/q8.gguf", dir);
    tlm_save_params sp = tlm_save_default_params();
    sp.type = TLM_TYPE_Q8_0;
    if (tlm_model_save_gguf(m, q8, &sp, &err) == TLM_OK)
        test_progress(q8);
    else
        CHECK(0, "save q8: %s", err.message);
    remove(q8);

    /* TLM_ISA set to an unknown name: refused at load, naming the variable */
    setenv("TLM_ISA", "avx9000", 1);
    tlm_model *bad = NULL;
    tlm_status st = tlm_model_load(stories, NULL, &bad, &err);
    CHECK(st == TLM_ERR_ARG && !bad && strstr(err.message, "TLM_ISA=avx9000") &&
              strstr(err.message, "ref"),
          "unknown TLM_ISA: %s", err.message);
    unsetenv("TLM_ISA");
    CHECK(strcmp(tlm_status_string(TLM_ERR_CANCELLED), "cancelled") == 0 &&
              strcmp(tlm_status_string(TLM_ERR_BUFFER_TOO_SMALL), "buffer too small") == 0,
          "status strings");
    free(want);
    tlm_model_free(m);
    rmdir(dir);
    return finish("embedding");
}
