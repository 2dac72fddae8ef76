/* test_context.c - the context calls of long context (lib/context*.c): remove and shift
 * contracts, save and load (round trip bit for bit, every refusal with its status), and the
 * memory plan (its numbers, the window cache's size, the budget refusal). Numerical checks
 * against the NumPy reference are in tests/test_long_context.py; this runs on stories260K
 * and on shape-only presets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tinylm.h"

enum { N = 48 };

static tlm_context *new_ctx(const tlm_model *m, int32_t n_ctx, tlm_type kv)
{
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.kv_type = kv;
    cp.n_threads = 2;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_context_create(m, &cp, &ctx, &err);
    CHECK(st == TLM_OK, "create n_ctx %d: %s", n_ctx, err.message);
    return ctx;
}

static void test_edit_contracts(const tlm_model *m, const int32_t *ids)
{
    tlm_context *ctx = new_ctx(m, 64, TLM_TYPE_F32);
    if (!ctx) return;
    CHECK(tlm_context_remove(NULL, 0, 1) == TLM_ERR_ARG, "remove on NULL");
    CHECK(tlm_context_shift(NULL, 0, 1, 1) == TLM_ERR_ARG, "shift on NULL");
    CHECK(tlm_context_eval(ctx, ids, 20, NULL) == TLM_OK, "eval 20");
    CHECK(tlm_context_remove(ctx, 5, 3) == TLM_ERR_ARG && tlm_context_error(ctx)[0], "p0 > p1");
    CHECK(tlm_context_remove(ctx, -1, 3) == TLM_ERR_ARG, "negative p0");
    CHECK(tlm_context_shift(ctx, 10, -1, -11) == TLM_ERR_ARG, "shift below position 0");
    CHECK(tlm_context_shift(ctx, 10, -1, -2) == TLM_ERR_ARG, "shift over held positions");
    CHECK(tlm_context_shift(ctx, 10, -1, 50) == TLM_ERR_ARG, "shift past n_ctx");
    CHECK(tlm_context_n_past(ctx) == 20, "refusals change nothing");
    CHECK(tlm_context_remove(ctx, 4, 10) == TLM_OK && tlm_context_n_past(ctx) == 20,
          "remove the middle: n_past stays");
    int32_t n = 0;
    const int32_t *tok = tlm_context_tokens(ctx, &n);
    CHECK(n == 20 && tok[3] == ids[3] && tok[4] == -1 && tok[9] == -1 && tok[10] == ids[10],
          "history marks the removed positions");
    CHECK(tlm_context_shift(ctx, 10, -1, -6) == TLM_OK && tlm_context_n_past(ctx) == 14,
          "shift the tail down into the gap");
    tok = tlm_context_tokens(ctx, &n);
    CHECK(n == 14 && tok[4] == ids[10] && tok[13] == ids[19], "history moved with the tail");
    CHECK(tlm_context_logits(ctx) == NULL, "an edit drops the logits");
    CHECK(tlm_context_shift(ctx, 0, 4, 3) == TLM_ERR_ARG, "shift up over held positions");
    CHECK(tlm_context_remove(ctx, 10, -1) == TLM_OK && tlm_context_n_past(ctx) == 10,
          "remove the end: the next position is p0");
    CHECK(tlm_context_remove(ctx, 0, -1) == TLM_OK && tlm_context_n_past(ctx) == 0,
          "remove everything");
    CHECK(tlm_context_eval(ctx, ids, 3, NULL) == TLM_OK, "eval after emptying");
    tlm_context_free(ctx);
}

/* Remove the end, then evaluate it again: the same logits as never removing (F32 cache). */
static void test_remove_end_replays(const tlm_model *m, const int32_t *ids)
{
    tlm_context *a = new_ctx(m, 64, TLM_TYPE_F32), *b = new_ctx(m, 64, TLM_TYPE_F32);
    int32_t V = tlm_model_get_info(m)->n_vocab;
    float *la = malloc((size_t)V * sizeof(float));
    if (!a || !b || !la) goto out;
    tlm_context_eval(a, ids, N, NULL);
    memcpy(la, tlm_context_logits(a), (size_t)V * sizeof(float));
    tlm_context_eval(b, ids, N, NULL);
    CHECK(tlm_context_remove(b, 30, -1) == TLM_OK, "remove [30, end)");
    for (int i = 30; i < N; i++)
        tlm_context_eval(b, &ids[i], 1, NULL);
    float worst = 0;
    for (int v = 0; v < V; v++)
        worst = fmaxf(worst, fabsf(tlm_context_logits(b)[v] - la[v]));
    CHECK(worst < 1e-5f, "remove the end and replay it: max_abs %.2e", (double)worst);
out:
    free(la);
    tlm_context_free(a);
    tlm_context_free(b);
}

static bool write_bytes(const char *path, const unsigned char *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    bool ok = fp && fwrite(p, 1, n, fp) == n;
    return fp && fclose(fp) == 0 && ok;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    *n = p ? fread(p, 1, (size_t)len, fp) : 0;
    fclose(fp);
    return p;
}

static void test_save_load(const tlm_model *m, const tlm_model *other, const int32_t *ids,
                           const char *dir)
{
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/ctx.cache", dir);
    snprintf(bad, sizeof bad, "%s/bad.cache", dir);
    int32_t V = tlm_model_get_info(m)->n_vocab;
    tlm_context *a = new_ctx(m, 64, TLM_TYPE_F16), *b = new_ctx(m, 64, TLM_TYPE_F16);
    float *ref = malloc((size_t)V * 8 * sizeof(float)),
          *got = malloc((size_t)V * 8 * sizeof(float));
    tlm_error err = {0};
    if (!a || !b || !ref || !got) goto out;
    tlm_context_eval(a, ids, 40, NULL);
    CHECK(tlm_context_save(a, path, &err) == TLM_OK, "save: %s", err.message);
    CHECK(tlm_context_load(b, path, &err) == TLM_OK, "load: %s", err.message);
    CHECK(tlm_context_n_past(b) == 40 && tlm_context_logits(b) &&
              memcmp(tlm_context_logits(b), tlm_context_logits(a), (size_t)V * 4) == 0,
          "loaded: 40 positions and the same last logits");
    tlm_context_eval(a, ids + 40, 8, ref);
    tlm_context_eval(b, ids + 40, 8, got);
    CHECK(memcmp(ref, got, (size_t)V * 8 * sizeof(float)) == 0,
          "continuing after load: bit-identical logits");

    /* refusals: each leaves the context empty and says why */
    CHECK(tlm_context_load(b, "/nonexistent/x.cache", &err) == TLM_ERR_IO, "missing file");
    tlm_context *f32 = new_ctx(m, 64, TLM_TYPE_F32);
    CHECK(f32 && tlm_context_load(f32, path, &err) == TLM_ERR_ARG && strstr(err.message, "F16"),
          "another KV type: %s", err.message);
    tlm_context_free(f32);
    tlm_context *small = new_ctx(m, 16, TLM_TYPE_F16);
    CHECK(small && tlm_context_load(small, path, &err) == TLM_ERR_ARG, "too small a context: %s",
          err.message);
    tlm_context_free(small);
    if (other) {
        tlm_context *o = new_ctx(other, 64, TLM_TYPE_F16);
        CHECK(o && tlm_context_load(o, path, &err) == TLM_ERR_ARG &&
                  strstr(err.message, "another model"),
              "another model: %s", err.message);
        tlm_context_free(o);
    }
    size_t n = 0;
    unsigned char *bytes = read_all(path, &n);
    if (!bytes) goto out;
    /* header fields: magic 0, version 8, n_past at 96, n_used at 100 */
    struct {
        size_t at;
        int32_t value;
        tlm_status want;
        const char *what;
    } lies[] = {
        {0, 0x4e4f4e, TLM_ERR_FORMAT, "bad magic"},
        {8, 3, TLM_ERR_FORMAT, "future version"},
        {96, 41, TLM_ERR_FORMAT, "n_past lies (file size disagrees)"},
        {100, 41, TLM_ERR_FORMAT, "n_used > n_past"},
        {96, -1, TLM_ERR_FORMAT, "negative n_past"},
        {100, 1 << 30, TLM_ERR_FORMAT, "huge n_used"},
    };
    for (size_t i = 0; i < sizeof lies / sizeof lies[0]; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, bytes, n);
        memcpy(c + lies[i].at, &lies[i].value, 4);
        write_bytes(bad, c, n);
        tlm_status st = tlm_context_load(b, bad, &err);
        CHECK((st == lies[i].want || (lies[i].at == 100 && st == TLM_ERR_ARG)) &&
                  tlm_context_n_past(b) == 0,
              "%s: status %d, %s", lies[i].what, (int)st, err.message);
        free(c);
    }
    write_bytes(bad, bytes, n - 1);
    CHECK(tlm_context_load(b, bad, &err) == TLM_ERR_FORMAT, "truncated: %s", err.message);
    write_bytes(bad, bytes, 50);
    CHECK(tlm_context_load(b, bad, &err) == TLM_ERR_FORMAT, "header cut: %s", err.message);
    /* a cell position out of order (first cell after the 104-byte header and 40 tokens) */
    unsigned char *c = malloc(n);
    memcpy(c, bytes, n);
    int32_t p = 39;
    memcpy(c + 104 + 4 * 40, &p, 4);
    write_bytes(bad, c, n);
    CHECK(tlm_context_load(b, bad, &err) == TLM_ERR_FORMAT, "positions out of order: %s",
          err.message);
    free(c);
    free(bytes);
    remove(bad);
    remove(path);
out:
    free(ref);
    free(got);
    tlm_context_free(a);
    tlm_context_free(b);
}

static void test_plan(const tlm_model *m)
{
    tlm_context_params cp = tlm_context_default_params();
    tlm_context_memory mem;
    tlm_error err = {0};
    const tlm_model_info *in = tlm_model_get_info(m);
    cp.n_ctx = 256;
    cp.mem_budget = TLM_MEM_UNCHECKED;
    CHECK(tlm_context_plan(NULL, &cp, &mem, &err) == TLM_ERR_ARG, "plan of NULL model");
    CHECK(tlm_context_plan(m, &cp, &mem, &err) == TLM_OK, "plan: %s", err.message);
    CHECK(mem.n_cells == 256 && mem.kv_bytes == 256 * in->kv_bytes_per_token &&
              mem.total_bytes == mem.kv_bytes + mem.scratch_bytes && mem.fits &&
              mem.budget_bytes == 0,
          "plan numbers: %d cells, KV %llu", mem.n_cells, (unsigned long long)mem.kv_bytes);
    cp.mem_budget = mem.total_bytes - 1;
    CHECK(tlm_context_plan(m, &cp, &mem, &err) == TLM_OK && !mem.fits && mem.max_n_ctx < 256 &&
              mem.max_n_ctx > 200,
          "one byte short: largest context %d", mem.max_n_ctx);
    tlm_context *ctx = NULL;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_ERR_NO_MEMORY && !ctx &&
              strstr(err.message, "largest context that fits"),
          "create over budget: %s", err.message);
    cp.n_ctx = mem.max_n_ctx;
    CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_OK, "the largest context fits: %s",
          err.message);
    tlm_context_free(ctx);
    cp.ntk_alpha = 0.5f;
    CHECK(tlm_context_plan(m, &cp, &mem, &err) == TLM_ERR_ARG, "ntk_alpha 0.5 refused");

    /* shape-only presets: Phi-3-mini's window cache, the 128k model's full one */
    tlm_preset_params pp = tlm_preset_default_params();
    pp.shape_only = true;
    tlm_model *phi3 = NULL, *phi3l = NULL;
    CHECK(tlm_model_load_preset("phi-3-mini", &pp, &phi3, &err) == TLM_OK, "%s", err.message);
    CHECK(tlm_model_load_preset("phi-3-mini-128k", &pp, &phi3l, &err) == TLM_OK, "%s", err.message);
    if (phi3 && phi3l) {
        tlm_context_params p3 = tlm_context_default_params();
        p3.mem_budget = TLM_MEM_UNCHECKED;
        tlm_context_plan(phi3, &p3, &mem, &err);
        uint64_t kv_tok = tlm_model_get_info(phi3)->kv_bytes_per_token;
        CHECK(mem.n_ctx == 4096 && mem.n_cells == 2047 - 1 + 2 * 256 &&
                  mem.kv_bytes == (uint64_t)mem.n_cells * kv_tok,
              "phi-3-mini: window 2047 + 2 batches = %d cells of 4096", mem.n_cells);
        p3.n_ctx = 1 << 20;
        tlm_context_plan(phi3, &p3, &mem, &err);
        CHECK(mem.n_cells == 2558, "phi-3-mini at 1M positions: still %d cells", mem.n_cells);
        p3.full_cache = true;
        tlm_context_plan(phi3, &p3, &mem, &err);
        CHECK(mem.n_cells == 1 << 20, "full_cache: %d cells", mem.n_cells);
        tlm_context_params pl = tlm_context_default_params();
        pl.mem_budget = TLM_MEM_UNCHECKED;
        tlm_context_plan(phi3l, &pl, &mem, &err);
        CHECK(mem.n_ctx == 131072 && mem.kv_bytes == 131072ull * kv_tok,
              "phi-3-mini-128k: 131072 positions, %.1f GiB KV at F16",
              (double)mem.kv_bytes / (1 << 30));
        tlm_context *c = NULL;
        CHECK(tlm_context_create(phi3, &p3, &c, &err) == TLM_ERR_ARG && !c,
              "a shape-only model cannot be evaluated");
        CHECK(tlm_model_save_gguf(phi3, "/tmp/never.gguf", NULL, &err) == TLM_ERR_ARG, "nor saved");
    }
    tlm_model_free(phi3);
    tlm_model_free(phi3l);
}

int main(void)
{
    const char *shared = getenv("TLM_SHARED");
    char stories[4096], dir[] = "/tmp/tlm-context-XXXXXX";
    snprintf(stories, sizeof stories, "%s/models/stories260K.bin", shared ? shared : "../shared");
    tlm_model *m = NULL, *other = NULL;
    tlm_error err = {0};
    if (!mkdtemp(dir)) {
        printf("FAIL: mkdtemp\n");
        return 1;
    }
    if (tlm_model_load(stories, NULL, &m, &err) != TLM_OK) {
        CHECK(0, "stories260K: %s", err.message);
    } else {
        int32_t ids[N];
        for (int i = 0; i < N; i++)
            ids[i] = 1 + (i * 37) % 500;
        test_edit_contracts(m, ids);
        test_remove_end_replays(m, ids);
        /* another model with the same shapes: the stories GGUF's twin written as F16 */
        char f16[600];
        snprintf(f16, sizeof f16, "%s/other.gguf", dir);
        tlm_save_params sp = tlm_save_default_params();
        sp.type = TLM_TYPE_F16;
        if (tlm_model_save_gguf(m, f16, &sp, &err) == TLM_OK)
            tlm_model_load(f16, NULL, &other, &err);
        test_save_load(m, other, ids, dir);
        test_plan(m);
        remove(f16);
    }
    tlm_model_free(other);
    tlm_model_free(m);
    rmdir(dir);
    return finish("context");
}
