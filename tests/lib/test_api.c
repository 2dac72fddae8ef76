/* test_api.c - the public API's contracts: bad calls return the documented status with a
 * message and never crash; chunked and token-by-token evaluation agree; presets have the
 * parameter counts docs/architectures.md computes from the real configs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinylm.h"

static int n_pass, n_fail, n_skip;

#define CHECK(cond, ...)                                                                      \
    do {                                                                                      \
        if (cond) n_pass++;                                                                   \
        else {                                                                                \
            n_fail++;                                                                         \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                       \
            printf(__VA_ARGS__);                                                              \
            printf("\n");                                                                     \
        }                                                                                     \
    } while (0)

static char stories[4096];

static void test_bad_calls(void)
{
    tlm_model *m = (tlm_model *)1;
    tlm_error err = {0};
    CHECK(tlm_model_load(NULL, NULL, &m, &err) == TLM_ERR_ARG && m == NULL, "NULL path");
    CHECK(tlm_model_load("/nonexistent/model.gguf", NULL, &m, &err) == TLM_ERR_IO && err.message[0],
          "missing file: %s", err.message);
    CHECK(tlm_model_load("/dev/null", NULL, &m, &err) == TLM_ERR_FORMAT, "empty file: %s",
          err.message);
    CHECK(tlm_model_load("x", NULL, NULL, NULL) == TLM_ERR_ARG, "NULL out, NULL err");
    CHECK(tlm_model_load_preset("no-such-model", NULL, &m, &err) == TLM_ERR_ARG,
          "unknown preset");
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
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_ERR_ARG, "negative n_ctx");
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
              tlm_context_n_past(ctx) == 0, "9 tokens into 8 positions");
    CHECK(tlm_context_eval(ctx, ids, 6, NULL) == TLM_OK, "6 of 8");
    CHECK(tlm_context_eval(ctx, ids, 3, NULL) == TLM_ERR_CONTEXT_FULL && tlm_context_n_past(ctx) == 6,
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
    for (int i = 0; i < N; i++) ids[i] = (i * 37 + 1) % V;
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
    {"tinyllama-1.1b", 1100048384ULL, 22528},  {"mobilellm-350m", 345355200ULL, 40960},
    {"gemma-2b", 2506172416ULL, 18432},        {"qwen-1.8b", 1836828672ULL, 196608},
    {"phi-2", 2779683840ULL, 327680},          {"phi-3-mini", 3821079552ULL, 393216},
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
        CHECK(in.kv_bytes_per_token == seed_models[i].kv_per_token, "%s: KV %llu B/token, want %llu",
              seed_models[i].name, (unsigned long long)in.kv_bytes_per_token,
              (unsigned long long)seed_models[i].kv_per_token);
    }
    const char *const *names = tlm_preset_names();
    int n = 0;
    while (names[n]) n++;
    CHECK(n == 7, "%d presets, want the seven seed models", n);
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
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_OK && tlm_context_eval(ctx, ids, 2, NULL) == TLM_OK,
          "mobilellm-350m runs");
    const float *lg = tlm_context_logits(ctx);
    int finite = lg != NULL;
    for (int v = 0; finite && v < in->n_vocab; v++) finite = isfinite(lg[v]);
    CHECK(finite, "logits finite");
    tlm_context_free(ctx);
    tlm_model_free(m);
}

int main(void)
{
    const char *shared = getenv("TLM_SHARED");
    snprintf(stories, sizeof stories, "%s/models/stories260K.bin", shared ? shared : "../shared");
    test_bad_calls();
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
        printf("skip: %s\n", err.message);
        n_skip++;
    }
    test_preset_info();
    test_preset_runs();
    printf("test_api: %d passed, %d failed, %d skipped\n", n_pass, n_fail, n_skip);
    return n_fail != 0;
}
