/* test_model_save.c - tlm_model_save_gguf through the public API, on the real stories260K:
 * argument errors and unwritable paths return the documented status and leave no file; the
 * progress reports cover every tensor and element once, in order, with a note for each
 * fallback; files are byte-identical for 1 and 2 threads; an F32 save loads back with
 * identical logits; saving over the file a model was loaded from works; Q8_0, Q4_0, F16 and
 * BF16 files (interleaved in memory once loaded) save back to the same bytes.
 * (File layouts and conventions are checked against independent code in
 * tests/test_quantize.py.) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "model.h"
#include "tinylm.h"

static char dir[256];

static const char *tmp(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static unsigned char *slurp(const char *path, long *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    *n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)*n);
    if (p && fread(p, 1, (size_t)*n, fp) != (size_t)*n) {
        free(p);
        p = NULL;
    }
    fclose(fp);
    return p;
}

/* ---- progress --------------------------------------------------------------------------- */

typedef struct seen {
    int calls, tensors, notes, last_index, count;
    int64_t last_done, total;
    bool ordered;
    tlm_type ffn_down_type;
} seen;

static void on_progress(void *user, const tlm_save_progress *p)
{
    seen *s = user;
    s->calls++;
    if (p->index != s->last_index) {
        s->tensors++;
        s->notes += p->note != NULL;
        if (strcmp(p->tensor, "blk.0.ffn_down.weight") == 0) s->ffn_down_type = p->type;
    }
    s->ordered &= p->index >= s->last_index && p->done >= s->last_done && p->done <= p->total;
    s->last_index = p->index;
    s->last_done = p->done;
    s->count = p->count;
    s->total = p->total;
}

/* ---- logits ------------------------------------------------------------------------------ */

static float *eval(const tlm_model *m, int32_t n)
{
    int32_t vocab = tlm_model_get_info(m)->n_vocab, ids[64];
    for (int32_t i = 0; i < n; i++)
        ids[i] = (1 + 7 * i) % vocab;
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n;
    cp.n_threads = 1;
    tlm_context *ctx = NULL;
    float *out = malloc((size_t)n * (size_t)vocab * sizeof *out);
    if (tlm_context_create(m, &cp, &ctx, NULL) != TLM_OK ||
        tlm_context_eval(ctx, ids, n, out) != TLM_OK) {
        free(out);
        out = NULL;
    }
    tlm_context_free(ctx);
    return out;
}

static tlm_model *load(const char *path)
{
    tlm_model *m = NULL;
    tlm_error err = {0};
    if (tlm_model_load(path, NULL, &m, &err) != TLM_OK) printf("load %s: %s\n", path, err.message);
    return m;
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_model_save.%ld", (long)getpid());
    mkdir(dir, 0700);
    const char *shared = getenv("TLM_SHARED");
    char src[512];
    snprintf(src, sizeof src, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    tlm_model *m = load(src);
    CHECK(m != NULL, "cannot load %s", src);
    if (!m) {
        return finish("model_save");
    }
    tlm_error err = {0};

    /* arguments */
    tlm_save_params sp = tlm_save_default_params();
    CHECK(sp.type == TLM_TYPE_F16 && sp.n_threads == 0 && !sp.progress, "defaults");
    CHECK(tlm_model_save_gguf(NULL, tmp("x.gguf"), NULL, &err) == TLM_ERR_ARG, "NULL model");
    CHECK(tlm_model_save_gguf(m, NULL, NULL, &err) == TLM_ERR_ARG, "NULL path");
    sp.type = (tlm_type)16; /* IQ2_XXS: not written */
    CHECK(tlm_model_save_gguf(m, tmp("x.gguf"), &sp, &err) == TLM_ERR_ARG && !exists(tmp("x.gguf")),
          "unknown type: %s", err.message);
    sp = tlm_save_default_params();
    CHECK(tlm_model_save_gguf(m, "/nonexistent-dir/x.gguf", &sp, &err) == TLM_ERR_IO &&
              strstr(err.message, "/nonexistent-dir/x.gguf"),
          "unwritable path: %s", err.message);

    /* progress: every tensor once, in order, all elements; notes for each fallback
     * (Q8_0 asked: ffn_down's rows of 172 are not whole blocks of 32, so F16) */
    seen s = {.last_index = -1, .ordered = true, .ffn_down_type = (tlm_type)-1};
    sp.type = TLM_TYPE_Q8_0;
    sp.progress = on_progress;
    sp.user = &s;
    sp.n_threads = 1;
    CHECK(tlm_model_save_gguf(m, tmp("q8-t1.gguf"), &sp, &err) == TLM_OK, "save q8_0: %s",
          err.message);
    CHECK(s.tensors == 48 && s.count == 48 && s.ordered && s.last_done == s.total &&
              s.calls >= s.tensors,
          "progress: %d tensors of %d, %d calls, done %ld of %ld, ordered %d", s.tensors, s.count,
          s.calls, (long)s.last_done, (long)s.total, s.ordered);
    CHECK(s.notes == 5 && s.ffn_down_type == TLM_TYPE_F16, "fallback notes %d, ffn_down type %d",
          s.notes, (int)s.ffn_down_type);
    CHECK(s.total == (int64_t)tlm_model_get_info(m)->n_params, "total %ld, params %llu",
          (long)s.total, (unsigned long long)tlm_model_get_info(m)->n_params);

    /* the same bytes for any thread count */
    sp.progress = NULL;
    sp.n_threads = 2;
    CHECK(tlm_model_save_gguf(m, tmp("q8-t2.gguf"), &sp, &err) == TLM_OK, "save 2 threads");
    long n1 = 0, n2 = 0;
    unsigned char *a = slurp(tmp("q8-t1.gguf"), &n1), *b = slurp(tmp("q8-t2.gguf"), &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, (size_t)n1) == 0, "1 and 2 threads differ");
    free(a);
    free(b);
    sp.type = TLM_TYPE_Q4_K; /* every matrix falls back here: still the same bytes */
    sp.n_threads = 1;
    tlm_model_save_gguf(m, tmp("k-t1.gguf"), &sp, &err);
    sp.n_threads = 2;
    tlm_model_save_gguf(m, tmp("k-t2.gguf"), &sp, &err);
    a = slurp(tmp("k-t1.gguf"), &n1), b = slurp(tmp("k-t2.gguf"), &n2);
    CHECK(a && b && n1 == n2 && memcmp(a, b, (size_t)n1) == 0, "q4_k: 1 and 2 threads differ");
    free(a);
    free(b);

    /* a Q8_0, Q4_0, F16 or BF16 file loads with its matrices interleaved in memory where the
     * kernels read them so (kernels.h, il: F16 and BF16 with 16 rows in the lanes at
     * AVX-512, by 4-row groups below); saving it at its own type gives its bytes back */
    static const struct {
        tlm_type type;
        const char *first, *again;
    } again[] = {{TLM_TYPE_Q8_0, "q8-t1.gguf", "q8-again.gguf"},
                 {TLM_TYPE_Q4_0, "q4.gguf", "q4-again.gguf"},
                 {TLM_TYPE_F16, "f16.gguf", "f16-again.gguf"},
                 {TLM_TYPE_BF16, "bf16.gguf", "bf16-again.gguf"}};
    for (size_t i = 0; i < sizeof again / sizeof again[0]; i++) {
        sp.type = again[i].type;
        if (again[i].type != TLM_TYPE_Q8_0) tlm_model_save_gguf(m, tmp(again[i].first), &sp, &err);
        tlm_model *mq = load(tmp(again[i].first));
        /* the stacked q|k|v of 128 rows: in the layout the table names for the type */
        const tlm_matrix *qkv = mq ? &mq->blocks[0].qkv.part[0] : NULL;
        CHECK(qkv && qkv->il == 1 + mq->k->il_layout[qkv->type] && mq->k->matmul_il[qkv->type],
              "%s: q|k|v not interleaved in the table's layout", again[i].first);
        CHECK(mq && tlm_model_save_gguf(mq, tmp(again[i].again), &sp, &err) == TLM_OK,
              "save %s again: %s", again[i].first, err.message);
        a = slurp(tmp(again[i].first), &n1), b = slurp(tmp(again[i].again), &n2);
        CHECK(a && b && n1 == n2 && memcmp(a, b, (size_t)n1) == 0, "%s saved again differs",
              again[i].first);
        free(a);
        free(b);
        tlm_model_free(mq);
    }

    /* F32 round trip: same logits, same info */
    sp.type = TLM_TYPE_F32;
    CHECK(tlm_model_save_gguf(m, tmp("f32.gguf"), &sp, &err) == TLM_OK, "save f32: %s",
          err.message);
    tlm_model *m2 = load(tmp("f32.gguf"));
    float *l1 = eval(m, 32), *l2 = m2 ? eval(m2, 32) : NULL;
    int32_t vocab = tlm_model_get_info(m)->n_vocab;
    CHECK(l1 && l2 && memcmp(l1, l2, (size_t)32 * (size_t)vocab * sizeof(float)) == 0,
          "f32 file gives other logits");
    CHECK(m2 && tlm_model_get_info(m2)->bos_id == tlm_model_get_info(m)->bos_id &&
              tlm_model_get_info(m2)->n_params == tlm_model_get_info(m)->n_params,
          "f32 file: bos or parameter count differ");
    tlm_tokenizer *tok = NULL;
    CHECK(m2 && tlm_tokenizer_from_model(m2, &tok, &err) == TLM_OK, "tokenizer kept: %s",
          err.message);
    tlm_tokenizer_free(tok);
    free(l2);

    /* saving over the file the model is mapped from */
    sp.type = TLM_TYPE_F16;
    CHECK(m2 && tlm_model_save_gguf(m2, tmp("f32.gguf"), &sp, &err) == TLM_OK,
          "save over the source: %s", err.message);
    tlm_model *m3 = load(tmp("f32.gguf"));
    l2 = m3 ? eval(m3, 32) : NULL;
    float worst = 0;
    for (int64_t i = 0; l1 && l2 && i < 32 * (int64_t)vocab; i++) {
        float d = l1[i] > l2[i] ? l1[i] - l2[i] : l2[i] - l1[i];
        worst = d > worst ? d : worst;
    }
    CHECK(l2 && worst < 0.05f, "f16 over the source: logits off by %g", worst);
    free(l1);
    free(l2);
    tlm_model_free(m3);
    tlm_model_free(m2);
    tlm_model_free(m);

    const char *names[] = {"q8-t1.gguf", "q8-t2.gguf",     "k-t1.gguf", "k-t2.gguf",
                           "f32.gguf",   "q8-again.gguf",  "q4.gguf",   "q4-again.gguf",
                           "f16.gguf",   "f16-again.gguf", "bf16.gguf", "bf16-again.gguf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        remove(tmp(names[i]));
    CHECK(rmdir(dir) == 0, "files left in %s", dir);
    return finish("model_save");
}
