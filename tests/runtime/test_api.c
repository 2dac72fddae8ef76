/* test_api.c - the public API's contracts: bad calls (NULL handles, sizes and ids out of
 * range, a full context, bad sampler parameters, oversized text) return the documented status
 * with a message and never crash or touch memory they should not (run under ASan/UBSan by
 * make asan / make ubsan); chunked and token-by-token evaluation agree; presets have the
 * parameter counts docs/architectures.md computes from the real configs. */
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "corpus.h"
#include "harness.h"
#include "tinylm.h"

static char stories[4096];

static void test_bad_calls(void)
{
    tlm_model *m = (tlm_model *)1;
    tlm_error err = {0};
    CHECK(tlm_model_load(NULL, NULL, &m, &err) == TLM_ERR_ARG && m == NULL, "NULL path");
    CHECK(tlm_model_load("/nonexistent/model.gguf", NULL, &m, &err) == TLM_ERR_IO && err.message[0],
          "missing file: %s", err.message);
    CHECK(tlm_model_load("/dev/null", NULL, &m, &err) == TLM_ERR_IO &&
              strstr(err.message, "a character device"),
          "a device: %s", err.message);
    CHECK(tlm_model_load("x", NULL, NULL, NULL) == TLM_ERR_ARG, "NULL out, NULL err");
    char empty_dir[] = "/tmp/tlm_api_dir_XXXXXX";
    if (CHECK(mkdtemp(empty_dir) != NULL, "mkdtemp")) {
        CHECK(tlm_model_load(empty_dir, NULL, &m, &err) == TLM_ERR_IO &&
                  strstr(err.message, "no model here") && strstr(err.message, "config.json"),
              "a directory without a model says so: %s", err.message);
        rmdir(empty_dir);
    }
    CHECK(tlm_model_load_preset("no-such-model", NULL, &m, &err) == TLM_ERR_ARG, "unknown preset");
    tlm_context *ctx = (tlm_context *)1;
    CHECK(tlm_context_create(NULL, NULL, &ctx, &err) == TLM_ERR_ARG && ctx == NULL, "NULL model");
    CHECK(tlm_context_eval(NULL, NULL, 1, NULL) == TLM_ERR_ARG, "NULL context");
    CHECK(tlm_context_logits(NULL) == NULL, "logits of NULL");
    tlm_model_free(NULL);
    tlm_context_free(NULL);
    tlm_sampler *s = NULL;
    tlm_sampler_params sp = tlm_sampler_default_params();
    sp.temperature = -1;
    CHECK(tlm_sampler_create(&sp, 10, &s, &err) == TLM_ERR_ARG, "negative temperature");
    sp = tlm_sampler_default_params();
    sp.top_p = 1.5f;
    CHECK(tlm_sampler_create(&sp, 10, &s, &err) == TLM_ERR_ARG, "top_p > 1");
    CHECK(tlm_version_number() == TLM_VERSION_NUMBER, "version mismatch");
}

static void test_context_limits(tlm_model *m)
{
    tlm_error err = {0};
    tlm_context *ctx = NULL;
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = -5;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_ERR_ARG &&
              strstr(err.message, "n_ctx -5") && !strstr(err.message, "n_batch"),
          "negative n_ctx, named alone: %s", err.message);
    cp.n_ctx = 8, cp.n_batch = -1;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_ERR_ARG &&
              strstr(err.message, "n_batch -1") && !strstr(err.message, "n_ctx"),
          "negative n_batch, named alone: %s", err.message);
    cp.n_batch = 0, cp.n_threads = 5000;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_ERR_ARG &&
              strstr(err.message, "n_threads 5000") && !strstr(err.message, "n_batch"),
          "n_threads too large, named alone: %s", err.message);
    cp = tlm_context_default_params();
    cp.n_ctx = 8;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_OK, "create: %s", err.message);
    if (!ctx) return;
    int32_t ids[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    CHECK(tlm_context_eval(ctx, ids, 0, NULL) == TLM_ERR_ARG, "zero tokens");
    int32_t bad[2] = {1, 512};
    CHECK(tlm_context_eval(ctx, bad, 2, NULL) == TLM_ERR_ARG && tlm_context_n_past(ctx) == 0,
          "id == vocab must fail and evaluate nothing");
    bad[1] = -1;
    CHECK(tlm_context_eval(ctx, bad, 2, NULL) == TLM_ERR_ARG, "negative id");
    CHECK(strlen(tlm_context_error(ctx)) > 0, "error message kept on the context");
    CHECK(tlm_context_eval(ctx, ids, 9, NULL) == TLM_ERR_CONTEXT_FULL &&
              tlm_context_n_past(ctx) == 0,
          "9 tokens into 8 positions");
    CHECK(tlm_context_eval(ctx, ids, 6, NULL) == TLM_OK, "6 of 8");
    CHECK(tlm_context_eval(ctx, ids, 3, NULL) == TLM_ERR_CONTEXT_FULL &&
              tlm_context_n_past(ctx) == 6,
          "overflow after 6");
    CHECK(tlm_context_eval(ctx, ids, 2, NULL) == TLM_OK && tlm_context_n_past(ctx) == 8, "fill");
    tlm_context_reset(ctx);
    CHECK(tlm_context_n_past(ctx) == 0 && tlm_context_logits(ctx) == NULL, "reset");
    tlm_context_free(ctx);
}

/* One batch, small batches, and token-by-token must give the same logits (to float
 * rounding: the prefill and decode kernels may sum in different orders). */
static void test_batching(tlm_model *m)
{
    enum { N = 24, V = 512 };
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (i * 37 + 1) % V;
    static float whole[N * V], chunked[N * V], single[N * V];
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = N;
    tlm_context *a = NULL, *b = NULL, *c = NULL;
    tlm_context_create(m, &cp, &a, NULL);
    cp.n_batch = 5;
    tlm_context_create(m, &cp, &b, NULL);
    tlm_context_create(m, &cp, &c, NULL);
    CHECK(a && b && c, "contexts");
    if (!a || !b || !c) return;
    tlm_context_eval(a, ids, N, whole);
    tlm_context_eval(b, ids, N, chunked);
    for (int i = 0; i < N; i++) {
        tlm_context_eval(c, &ids[i], 1, NULL);
        memcpy(single + i * V, tlm_context_logits(c), V * sizeof(float));
    }
    double d1 = 0, d2 = 0;
    for (int i = 0; i < N * V; i++) {
        d1 = fmax(d1, fabs(whole[i] - chunked[i]));
        d2 = fmax(d2, fabs(whole[i] - single[i]));
    }
    CHECK(d1 < 1e-4 && d2 < 1e-4, "batching changes logits: chunked %g, single %g", d1, d2);
    CHECK(memcmp(tlm_context_logits(a), whole + (N - 1) * V, V * sizeof(float)) == 0,
          "last-token logits equal the last row");
    tlm_context_free(a);
    tlm_context_free(b);
    tlm_context_free(c);
}

/* Parameter counts and F16 KV bytes per token from docs/architectures.md Part 2 (computed
 * there from the real configs). */
static const struct {
    const char *name;
    uint64_t params, kv_per_token;
} seed_models[] = {
    {"tinyllama-1.1b", 1100048384ULL, 22528},   {"mobilellm-350m", 345355200ULL, 40960},
    {"gemma-2b", 2506172416ULL, 18432},         {"qwen-1.8b", 1836828672ULL, 196608},
    {"phi-2", 2779683840ULL, 327680},           {"phi-3-mini", 3821079552ULL, 393216},
    {"stablelm-2-1.6b", 1644515328ULL, 196608},
};

static void test_preset_info(void)
{
    for (size_t i = 0; i < sizeof seed_models / sizeof seed_models[0]; i++) {
        tlm_model_info in;
        tlm_error err = {0};
        if (tlm_preset_info(seed_models[i].name, TLM_TYPE_F16, &in, &err) != TLM_OK) {
            CHECK(0, "%s: %s", seed_models[i].name, err.message);
            continue;
        }
        CHECK(in.n_params == seed_models[i].params, "%s: %llu params, want %llu",
              seed_models[i].name, (unsigned long long)in.n_params,
              (unsigned long long)seed_models[i].params);
        CHECK(in.kv_bytes_per_token == seed_models[i].kv_per_token,
              "%s: KV %llu B/token, want %llu", seed_models[i].name,
              (unsigned long long)in.kv_bytes_per_token,
              (unsigned long long)seed_models[i].kv_per_token);
    }
    const char *const *names = tlm_preset_names();
    int n = 0;
    while (names[n])
        n++;
    CHECK(n == 8, "%d presets, want the seven seed models and phi-3-mini-128k", n);
}

/* A real preset with random weights: made, runs, finite logits, the same info as planned. */
static void test_preset_runs(void)
{
    tlm_model *m = NULL;
    tlm_error err = {0};
    tlm_preset_params pp = tlm_preset_default_params();
    if (tlm_model_load_preset("mobilellm-350m", &pp, &m, &err) != TLM_OK) {
        CHECK(0, "mobilellm-350m: %s", err.message);
        return;
    }
    const tlm_model_info *in = tlm_model_get_info(m);
    tlm_model_info plan;
    tlm_preset_info("mobilellm-350m", TLM_TYPE_F16, &plan, NULL);
    CHECK(in->n_params == plan.n_params && in->weight_bytes == plan.weight_bytes,
          "made and planned sizes differ");
    tlm_context *ctx = NULL;
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = 4;
    int32_t ids[2] = {1, 2};
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_OK &&
              tlm_context_eval(ctx, ids, 2, NULL) == TLM_OK,
          "mobilellm-350m runs");
    const float *lg = tlm_context_logits(ctx);
    int finite = lg != NULL;
    for (int v = 0; finite && v < in->n_vocab; v++)
        finite = isfinite(lg[v]);
    CHECK(finite, "logits finite");
    tlm_context_free(ctx);
    tlm_model_free(m);
}

/* ---- misuse of every call: NULL handles, out-of-range sizes, ids and parameters ---------- */

static char tmp_dir[256];

static const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmp_dir, name);
    return p[k];
}

static bool write_buf(const char *path, const wbuf *b)
{
    FILE *fp = fopen(path, "wb");
    bool ok = fp && (b->n == 0 || fwrite(b->p, 1, b->n, fp) == b->n);
    return fp && fclose(fp) == 0 && ok;
}

static void test_model_misuse(void)
{
    tlm_error err = {0};
    tlm_model *m = (tlm_model *)&err;
    for (int st = 0; st <= 7; st++)
        CHECK(tlm_status_string((tlm_status)st) != NULL, "status string %d", st);
    CHECK(strcmp(tlm_status_string((tlm_status)99), "unknown status") == 0, "unknown status");
    CHECK(tlm_model_load(tmp_dir, NULL, NULL, &err) == TLM_ERR_ARG && err.message[0], "NULL out");
    CHECK(tlm_model_load(tmp_dir, NULL, &m, &err) == TLM_ERR_IO && !m &&
              strstr(err.message, "config.json"),
          "a directory without config.json: %s", err.message);
    wbuf empty = {0};
    CHECK(write_buf(tmp_path("empty.bin"), &empty), "write");
    CHECK(tlm_model_load(tmp_path("empty.bin"), NULL, &m, &err) == TLM_ERR_FORMAT &&
              strstr(err.message, "empty.bin"),
          "empty file: %s", err.message);
    if (mkfifo(tmp_path("pipe"), 0600) == 0) /* must not block waiting for a writer */
        CHECK(tlm_model_load(tmp_path("pipe"), NULL, &m, &err) == TLM_ERR_IO, "FIFO: %s",
              err.message);
    CHECK(tlm_model_get_info(NULL) == NULL, "info of NULL");
    CHECK(tlm_tokenizer_from_model(NULL, NULL, &err) == TLM_ERR_ARG, "tokenizer of NULL model");
    tlm_model_info info;
    CHECK(tlm_preset_info(NULL, TLM_TYPE_F16, &info, &err) == TLM_ERR_ARG, "NULL preset name");
    CHECK(tlm_preset_info("phi-2", TLM_TYPE_F16, NULL, &err) == TLM_ERR_ARG, "NULL info");
    CHECK(tlm_preset_info("phi-2", TLM_TYPE_Q4_K, &info, &err) == TLM_ERR_UNSUPPORTED,
          "preset of a quantized type");
    CHECK(tlm_model_load_preset("phi-2", NULL, NULL, &err) == TLM_ERR_ARG, "NULL out (preset)");
    CHECK(tlm_model_save_gguf(NULL, tmp_path("x.gguf"), NULL, &err) == TLM_ERR_ARG,
          "save NULL model");
    CHECK(tlm_model_check(NULL, NULL, &err) == TLM_ERR_ARG, "check NULL path");
    CHECK(tlm_model_check(tmp_path("empty.bin"), NULL, &err) == TLM_ERR_FORMAT,
          "check without params or report: %s", err.message);
}

/* The corpus's tiny GGUF model: contexts, eval and sampling with every kind of bad argument. */
static void test_context_misuse(void)
{
    wbuf b;
    cm_gguf(&b, GM_NONE, NULL);
    const char *path = tmp_path("tiny.gguf");
    CHECK(write_buf(path, &b), "write tiny.gguf");
    wb_free(&b);
    tlm_error err = {0};
    tlm_model *m = NULL;
    if (tlm_model_load(path, NULL, &m, &err) != TLM_OK) {
        CHECK(0, "tiny.gguf: %s", err.message);
        return;
    }
    tlm_context *ctx = (tlm_context *)&err;
    tlm_context_params cp = tlm_context_default_params();
    CHECK(tlm_context_create(m, &cp, NULL, &err) == TLM_ERR_ARG, "NULL out");
    const struct {
        int32_t n_ctx, n_batch, n_threads;
        tlm_type kv;
        tlm_status want;
    } bad[] = {
        {-1, 8, 1, TLM_TYPE_F16, TLM_ERR_ARG},        {8, -1, 1, TLM_TYPE_F16, TLM_ERR_ARG},
        {8, 8, -1, TLM_TYPE_F16, TLM_ERR_ARG},        {8, 8, 100000, TLM_TYPE_F16, TLM_ERR_ARG},
        {1 << 30, 8, 1, TLM_TYPE_F16, TLM_ERR_ARG},   {8, 8, 1, TLM_TYPE_Q8_0, TLM_ERR_UNSUPPORTED},
        {8, 8, 1, (tlm_type)77, TLM_ERR_UNSUPPORTED}, {INT32_MIN, 8, 1, TLM_TYPE_F32, TLM_ERR_ARG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cp = tlm_context_default_params();
        cp.n_ctx = bad[i].n_ctx, cp.n_batch = bad[i].n_batch, cp.n_threads = bad[i].n_threads;
        cp.kv_type = bad[i].kv;
        err.message[0] = '\0';
        CHECK(tlm_context_create(m, &cp, &ctx, &err) == bad[i].want && !ctx && err.message[0],
              "context params %zu accepted", i);
    }
    /* a batch larger than the context is cut to the context (the documented policy) */
    cp = tlm_context_default_params();
    cp.n_ctx = 8, cp.n_batch = 1000, cp.n_threads = 1;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_OK, "n_batch > n_ctx: %s", err.message);
    if (!ctx) {
        tlm_model_free(m);
        return;
    }
    int32_t ids[9] = {1, 6, 7, 8, 9, 10, 11, 12, 13};
    CHECK(tlm_context_logits(ctx) == NULL && tlm_context_n_ctx(ctx) == 8, "fresh context");
    CHECK(tlm_context_eval(ctx, NULL, 1, NULL) == TLM_ERR_ARG, "NULL tokens");
    CHECK(tlm_context_eval(ctx, ids, -3, NULL) == TLM_ERR_ARG, "negative count");
    const int32_t wild[] = {INT32_MIN, -1, CM_VOCAB, INT32_MAX};
    for (size_t i = 0; i < sizeof wild / sizeof wild[0]; i++) {
        int32_t two[2] = {1, wild[i]};
        CHECK(tlm_context_eval(ctx, two, 2, NULL) == TLM_ERR_ARG && tlm_context_n_past(ctx) == 0,
              "id %d accepted", (int)wild[i]);
    }
    /* a count far past the array: refused as too long before any id is read (ASan watches) */
    CHECK(tlm_context_eval(ctx, ids, INT32_MAX, NULL) == TLM_ERR_CONTEXT_FULL &&
              strstr(tlm_context_error(ctx), "do not fit"),
          "INT32_MAX tokens: %s", tlm_context_error(ctx));
    CHECK(tlm_context_eval(ctx, ids, 9, NULL) == TLM_ERR_CONTEXT_FULL, "9 into 8");
    CHECK(tlm_context_eval(ctx, ids, 8, NULL) == TLM_OK && tlm_context_n_past(ctx) == 8,
          "exactly full: %s", tlm_context_error(ctx));
    const float *lg = tlm_context_logits(ctx);
    float keep = lg ? lg[3] : 0;
    CHECK(tlm_context_eval(ctx, ids, 1, NULL) == TLM_ERR_CONTEXT_FULL &&
              tlm_context_n_past(ctx) == 8 && tlm_context_logits(ctx) == lg && lg[3] == keep,
          "a full context keeps its state");
    CHECK(tlm_context_n_past(NULL) == 0 && tlm_context_n_ctx(NULL) == 0, "NULL context sizes");
    CHECK(tlm_context_error(NULL) != NULL, "error of NULL");
    tlm_context_reset(NULL);

    /* sampler parameters */
    tlm_sampler *s = (tlm_sampler *)&err;
    tlm_sampler_params sp = tlm_sampler_default_params();
    CHECK(tlm_sampler_create(NULL, 10, &s, &err) == TLM_ERR_ARG && !s, "NULL params");
    CHECK(tlm_sampler_create(&sp, 10, NULL, &err) == TLM_ERR_ARG, "NULL out");
    CHECK(tlm_sampler_create(&sp, 0, &s, &err) == TLM_ERR_ARG, "n_vocab 0");
    CHECK(tlm_sampler_create(&sp, -5, &s, &err) == TLM_ERR_ARG, "n_vocab < 0");
    const struct {
        float t;
        int32_t k;
        float p;
    } sbad[] = {
        {NAN, 0, 1}, {INFINITY, 0, 1}, {-0.5f, 0, 1}, {1, -1, 1},        {1, 0, 0},
        {1, 0, -1},  {1, 0, 1.0001f},  {1, 0, NAN},   {1, INT32_MIN, 1},
    };
    for (size_t i = 0; i < sizeof sbad / sizeof sbad[0]; i++) {
        sp = tlm_sampler_default_params();
        sp.temperature = sbad[i].t, sp.top_k = sbad[i].k, sp.top_p = sbad[i].p;
        CHECK(tlm_sampler_create(&sp, 10, &s, &err) == TLM_ERR_ARG && !s, "sampler %zu accepted",
              i);
    }
    sp = tlm_sampler_default_params();
    sp.top_k = 1000000; /* larger than the vocabulary: all of it */
    CHECK(tlm_sampler_create(&sp, CM_VOCAB, &s, &err) == TLM_OK, "top_k > n_vocab: %s",
          err.message);
    int32_t id = s ? tlm_sampler_sample(s, lg) : -1;
    CHECK(id >= 0 && id < CM_VOCAB, "sampled %d", (int)id);
    CHECK(tlm_sampler_sample(s, NULL) == -1 && tlm_sampler_sample(NULL, lg) == -1, "NULL sample");
    tlm_sampler_free(s);
    tlm_sampler_free(NULL);
    tlm_context_free(ctx);
    tlm_model_free(m);
}

static void test_tokenizer_misuse(void)
{
    tlm_error err = {0};
    tlm_tokenizer *tok = (tlm_tokenizer *)&err;
    CHECK(tlm_tokenizer_load(NULL, &tok, &err) == TLM_ERR_ARG && !tok, "NULL path");
    CHECK(tlm_tokenizer_load(tmp_dir, NULL, &err) == TLM_ERR_ARG, "NULL out");
    char long_path[4000];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    CHECK(tlm_tokenizer_load(long_path, &tok, &err) == TLM_ERR_ARG, "4 KB path");
    CHECK(tlm_tokenizer_load(tmp_dir, &tok, &err) == TLM_ERR_IO, "directory without files");
    CHECK(tlm_tokenizer_load_llama2c(tmp_path("empty.bin"), 0, &tok, &err) == TLM_ERR_ARG,
          "n_vocab 0");
    CHECK(tlm_tokenizer_load_llama2c(tmp_path("empty.bin"), INT32_MAX, &tok, &err) == TLM_ERR_ARG,
          "n_vocab 2^31 - 1");
    wbuf b;
    cm_gguf(&b, GM_NONE, NULL);
    CHECK(write_buf(tmp_path("vocab.gguf"), &b), "write");
    wb_free(&b);
    tok = NULL;
    if (tlm_tokenizer_load(tmp_path("vocab.gguf"), &tok, &err) != TLM_OK) {
        CHECK(0, "vocab.gguf: %s", err.message);
        return;
    }
    int32_t ids[64], n = -1;
    CHECK(tlm_tokenize(NULL, "ab", true, ids, 64, &n) == TLM_ERR_ARG && n == 0, "NULL tokenizer");
    CHECK(tlm_tokenize(tok, NULL, true, ids, 64, &n) == TLM_ERR_ARG, "NULL text");
    CHECK(tlm_tokenize(tok, "ab", true, ids, 64, NULL) == TLM_ERR_ARG, "NULL n_out");
    CHECK(tlm_tokenize(tok, "ab", true, ids, -1, &n) == TLM_ERR_ARG, "negative cap");
    CHECK(tlm_tokenize(tok, "ab", true, NULL, 4, &n) == TLM_ERR_ARG, "NULL ids with cap 4");
    CHECK(tlm_tokenize(tok, "ab abcd ab", true, NULL, 0, &n) == TLM_ERR_BUFFER_TOO_SMALL && n == 4,
          "size query: %d ids", (int)n);
    CHECK(tlm_tokenize(tok, "ab abcd ab", true, ids, 2, &n) == TLM_ERR_BUFFER_TOO_SMALL && n == 4 &&
              ids[0] == 1,
          "cap 2 of 4: %d", (int)n);
    CHECK(tlm_tokenize_special(tok, "<s>ab", false, ids, 64, &n) == TLM_OK && n >= 2 && ids[0] == 1,
          "special parsing: %d ids", (int)n);
    /* text over the 512 MiB cap is refused whole */
    size_t big = ((size_t)1 << 29) + 1;
    char *huge = malloc(big + 1);
    if (huge) {
        memset(huge, 'a', big);
        huge[big] = '\0';
        CHECK(tlm_tokenize(tok, huge, false, ids, 64, &n) == TLM_ERR_ARG && n == 0, "512 MiB + 1");
        free(huge);
    }
    size_t len = 99;
    CHECK(tlm_token_piece(NULL, -1, 0, &len) == NULL && len == 0, "piece of NULL");
    CHECK(tlm_token_piece(tok, -1, -1, &len) == NULL &&
              tlm_token_piece(tok, -1, CM_VOCAB, &len) == NULL &&
              tlm_token_piece(tok, INT32_MIN, INT32_MAX, NULL) == NULL,
          "pieces out of range");
    CHECK(tlm_token_piece(tok, INT32_MAX, 6, &len) != NULL && len == 1, "any prev is fine");
    CHECK(tlm_tokenizer_bos(NULL) == -1 && tlm_tokenizer_eos(NULL) == -1 &&
              tlm_tokenizer_n_vocab(NULL) == 0 && !tlm_tokenizer_adds_bos(NULL) &&
              tlm_tokenizer_find(NULL, "a") == -1 && tlm_tokenizer_find(tok, NULL) == -1 &&
              tlm_tokenizer_chat_template(NULL) == NULL,
          "queries on NULL");
    tlm_detok *d = (tlm_detok *)&err;
    CHECK(tlm_detok_create(NULL, &d) == TLM_ERR_ARG && !d, "detok of NULL");
    CHECK(tlm_detok_create(tok, NULL) == TLM_ERR_ARG, "detok NULL out");
    CHECK(tlm_detok_push(NULL, 1, &len) == NULL && len == 0 && tlm_detok_flush(NULL, &len) == NULL,
          "detok NULL");
    tlm_detok_reset(NULL, 0);
    tlm_detok_free(NULL);
    if (tlm_detok_create(tok, &d) == TLM_OK) {
        CHECK(tlm_detok_push(d, -7, &len) == NULL && len == 0 &&
                  tlm_detok_push(d, CM_VOCAB, &len) == NULL,
              "detok ids out of range");
        CHECK(tlm_detok_push(d, 19, &len) != NULL && len == 0, "a held byte");
        CHECK(tlm_detok_flush(d, &len) != NULL && len == 3, "flushed as U+FFFD");
        tlm_detok_free(d);
    }
    /* chat calls */
    tlm_chat_message msgs[2] = {{"user", "hi"}, {"assistant", "ho"}};
    char buf[256];
    CHECK(tlm_chat_render((tlm_chat_template)99, tok, msgs, 1, true, buf, sizeof buf, &len, &err) ==
              TLM_ERR_ARG,
          "unknown template");
    CHECK(tlm_chat_render(TLM_CHAT_CHATML, tok, msgs, 1, true, buf, sizeof buf, NULL, &err) ==
              TLM_ERR_ARG,
          "NULL len");
    CHECK(tlm_chat_render(TLM_CHAT_CHATML, tok, msgs, 1, true, NULL, 16, &len, &err) == TLM_ERR_ARG,
          "NULL buf with cap");
    CHECK(tlm_chat_render(TLM_CHAT_CHATML, tok, msgs, -1, true, buf, sizeof buf, &len, &err) ==
              TLM_ERR_ARG,
          "negative message count");
    CHECK(tlm_chat_render(TLM_CHAT_CHATML, tok, NULL, 2, true, buf, sizeof buf, &len, &err) ==
              TLM_ERR_ARG,
          "NULL messages");
    tlm_chat_message bad_role[1] = {{NULL, "x"}}, bad_text[1] = {{"user", NULL}};
    CHECK(tlm_chat_render(TLM_CHAT_CHATML, tok, bad_role, 1, true, buf, sizeof buf, &len, &err) ==
                  TLM_ERR_ARG &&
              tlm_chat_render(TLM_CHAT_CHATML, tok, bad_text, 1, true, buf, sizeof buf, &len,
                              &err) == TLM_ERR_ARG,
          "NULL role or content");
    CHECK(tlm_chat_render(TLM_CHAT_CHATML, tok, msgs, 2, false, buf, 4, &len, &err) ==
                  TLM_ERR_BUFFER_TOO_SMALL &&
              len > 4 && strlen(buf) == 3 && err.status == TLM_ERR_BUFFER_TOO_SMALL,
          "cap too small: %zu", len);
    CHECK(tlm_chat_tokenize(TLM_CHAT_ZEPHYR, NULL, msgs, 1, true, ids, 64, &n, &err) == TLM_ERR_ARG,
          "chat tokenize NULL tokenizer");
    CHECK(tlm_chat_tokenize(TLM_CHAT_ZEPHYR, tok, msgs, 1, true, ids, -2, &n, &err) == TLM_ERR_ARG,
          "chat tokenize negative cap");
    tlm_chat_template t;
    CHECK(tlm_chat_template_detect(NULL, &t, &err) == TLM_ERR_ARG, "detect NULL");
    CHECK(strcmp(tlm_chat_template_name((tlm_chat_template)-5), "unknown") == 0 &&
              tlm_chat_template_from_name(NULL) == TLM_CHAT_UNKNOWN,
          "template names");
    CHECK(!tlm_chat_is_stop(TLM_CHAT_CHATML, NULL, 2) &&
              !tlm_chat_is_stop(TLM_CHAT_CHATML, tok, -1) &&
              !tlm_chat_is_stop(TLM_CHAT_CHATML, tok, CM_VOCAB) &&
              tlm_chat_is_stop((tlm_chat_template)99, tok, 2),
          "is_stop bounds (EOS always stops)");
    tlm_tokenizer_free(tok);
    tlm_tokenizer_free(NULL);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    const char *shared = getenv("TLM_SHARED");
    snprintf(stories, sizeof stories, "%s/models/stories260K.bin", shared ? shared : "../shared");
    test_bad_calls();
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tlm_api_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmp_dir)) {
        test_model_misuse();
        test_context_misuse();
        test_tokenizer_misuse();
        nftw(tmp_dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    } else {
        CHECK(0, "cannot make a temporary directory");
    }
    tlm_model *m = NULL;
    tlm_error err = {0};
    if (tlm_model_load(stories, NULL, &m, &err) == TLM_OK) {
        const tlm_model_info *in = tlm_model_get_info(m);
        CHECK(in->n_vocab == 512 && in->dim == 64 && in->n_layers == 5 && in->n_kv_heads == 4,
              "stories260K info");
        test_context_limits(m);
        test_batching(m);
        tlm_model_free(m);
    } else {
        MISSING(1, "stories260K: %s", err.message);
    }
    test_preset_info();
    test_preset_runs();
    return finish("api");
}
