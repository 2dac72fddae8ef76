/* test_seq_tokens.c - tlm_context_seq_tokens (lib/runtime/context.c): the tokens each sequence
 * of a multi-sequence context holds, checked against the ids the test fed it (no stored
 * expectations):
 *   - each sequence gives its own ids, and sequence 0 the same array and count as
 *     tlm_context_tokens; an empty sequence gives a count of 0;
 *   - a range removed from the middle reads -1 and keeps the count; a removed tail shortens it;
 *   - a copy (seq_copy) and a state loaded into another sequence (seq_load_buffer) give the
 *     source's ids; a refused load leaves the target empty;
 *   - a NULL context and ids outside [0, n_seq_max) give NULL and a count of 0.
 *
 * Usage: test_seq_tokens [MODEL...]; without arguments stories260K (TLM_SHARED or ../shared). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tinylm.h"

enum { NSEQ = 4, NCTX = 32, NB = 8 };

static const char *g_name = "";

/* Evaluates ids[0..n) at the next positions of seq, NB at a time, no logits. */
static bool feed(tlm_context *ctx, int32_t seq, const int32_t *ids, int32_t n)
{
    int32_t seqs[NB];
    for (int i = 0; i < NB; i++)
        seqs[i] = seq;
    for (int32_t s = 0; s < n; s += NB) {
        tlm_batch b = {.n_tokens = n - s < NB ? n - s : NB, .token = ids + s, .seq_id = seqs};
        if (tlm_context_eval_batch(ctx, &b) != TLM_OK) {
            CHECK(0, "%s: eval seq %d: %s", g_name, seq, tlm_context_error(ctx));
            return false;
        }
    }
    return true;
}

/* Whether seq holds exactly want[0..n) (-1 where a position is empty). */
static bool holds(const tlm_context *ctx, int32_t seq, const int32_t *want, int32_t n)
{
    int32_t got_n = -7;
    const int32_t *got = tlm_context_seq_tokens(ctx, seq, &got_n);
    return got && got_n == n && (n == 0 || !memcmp(got, want, (size_t)n * sizeof *got));
}

static void test_bad_ids(const tlm_context *ctx)
{
    const int32_t bad[] = {-1, NSEQ, NSEQ + 1, 1 << 30};
    for (size_t i = 0; i < COUNT(bad); i++) {
        int32_t n = 99;
        const int32_t *t = tlm_context_seq_tokens(ctx, bad[i], &n);
        CHECK(!t && n == 0, "%s: sequence id %d: %p, n %d (want NULL, 0)", g_name, bad[i],
              (const void *)t, n);
    }
    int32_t n = 99;
    CHECK(!tlm_context_seq_tokens(NULL, 0, &n) && n == 0, "NULL context: n %d", n);
    CHECK(tlm_context_seq_tokens(ctx, 0, NULL) != NULL, "%s: n may be NULL", g_name);
}

static void test_model(const char *path)
{
    tlm_model *m = NULL;
    tlm_error err = {0};
    g_name = path;
    if (tlm_model_load(path, NULL, &m, &err) != TLM_OK) {
        CHECK(0, "%s: %s", path, err.message);
        return;
    }
    int32_t vocab = tlm_model_get_info(m)->n_vocab;
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = NCTX;
    cp.n_batch = NB;
    cp.n_threads = 2;
    cp.n_seq_max = NSEQ;
    tlm_context *ctx = NULL;
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        CHECK(0, "%s: create: %s", path, err.message);
        tlm_model_free(m);
        return;
    }
    int32_t a[11], b[7];
    for (int32_t i = 0; i < 11; i++)
        a[i] = (7 + 13 * i) % vocab;
    for (int32_t i = 0; i < 7; i++)
        b[i] = (3 + 29 * i) % vocab;
    CHECK(holds(ctx, 2, NULL, 0), "%s: a new sequence is empty", path);
    if (!feed(ctx, 1, a, 11) || !feed(ctx, 0, b, 7)) goto done;
    CHECK(holds(ctx, 1, a, 11), "%s: sequence 1 holds its 11 ids", path);
    CHECK(holds(ctx, 0, b, 7), "%s: sequence 0 holds its 7 ids", path);
    int32_t n0 = 0, n1 = 0;
    const int32_t *t0 = tlm_context_tokens(ctx, &n0), *t1 = tlm_context_seq_tokens(ctx, 0, &n1);
    CHECK(t0 == t1 && n0 == n1, "%s: sequence 0 is tlm_context_tokens' (n %d, %d)", path, n0, n1);
    test_bad_ids(ctx);

    /* a gap reads -1, the count stays; a removed tail shortens it */
    int32_t gap[11];
    memcpy(gap, a, sizeof gap);
    gap[3] = gap[4] = -1;
    CHECK(tlm_context_seq_remove(ctx, 1, 3, 5) == TLM_OK && holds(ctx, 1, gap, 11),
          "%s: positions 3 and 4 removed read -1", path);
    CHECK(tlm_context_seq_remove(ctx, 1, 8, -1) == TLM_OK && holds(ctx, 1, gap, 8),
          "%s: the tail removed: 8 positions", path);
    CHECK(holds(ctx, 0, b, 7), "%s: sequence 0 untouched by sequence 1's edits", path);

    CHECK(tlm_context_seq_copy(ctx, 0, 2) == TLM_OK && holds(ctx, 2, b, 7),
          "%s: a copy holds the source's ids", path);

    size_t size = 0;
    unsigned char *st = NULL;
    if (tlm_context_seq_save_buffer(ctx, 1, NULL, 0, &size, &err) == TLM_ERR_BUFFER_TOO_SMALL)
        st = malloc(size);
    CHECK(st && tlm_context_seq_save_buffer(ctx, 1, st, size, &size, &err) == TLM_OK &&
              tlm_context_seq_load_buffer(ctx, 3, st, size, &err) == TLM_OK &&
              holds(ctx, 3, gap, 8),
          "%s: a state loaded into sequence 3 holds the saved ids: %s", path, err.message);
    if (st) {
        memset(st, 0x5a, size);
        CHECK(tlm_context_seq_load_buffer(ctx, 3, st, size, &err) != TLM_OK &&
                  holds(ctx, 3, NULL, 0),
              "%s: a refused load leaves the sequence empty", path);
    }
    free(st);
done:
    tlm_context_free(ctx);
    tlm_model_free(m);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            test_model(argv[i]);
        return finish("seq_tokens");
    }
    const char *shared = getenv("TLM_SHARED");
    char stories[4096];
    snprintf(stories, sizeof stories, "%s/models/stories260K.bin", shared ? shared : "../shared");
    FILE *fp = fopen(stories, "rb");
    if (!fp) {
        MISSING(1, "%s not found", stories);
    } else {
        fclose(fp);
        test_model(stories);
    }
    return finish("seq_tokens");
}
