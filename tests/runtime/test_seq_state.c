/* test_seq_state.c - saving and loading one sequence of a multi-sequence context
 * (tlm_context_seq_save / _load / _save_buffer / _load_buffer, lib/runtime/context_file.c and
 * state_buffer.c). The properties, each checked against the same context's own history or a
 * twin context that never saw the call under test (no stored expectations):
 *   - a sequence saved, then overwritten by going on, and loaded back continues with the bits
 *     it had at the save point (same thread count, same one-token batches);
 *   - loaded into another sequence id, or into a context with another n_seq_max and n_ctx,
 *     it continues with the same bits;
 *   - a load replaces only its target: every other sequence's state bytes and next logits
 *     are those of a twin context;
 *   - file and buffer hold the same bytes; a load then a save gives the bytes back; files of
 *     tlm_context_save load as a sequence and the other way round;
 *   - truncated (at every length), corrupted or foreign states and bad ids are refused with
 *     the documented status, the target emptied (nothing changed for a bad id), the others
 *     untouched;
 *   - a file name of 255 bytes (NAME_MAX) saves and loads, and no temporary file stays.
 * Run under ASan by `make asan` (tests/run.sh).
 *
 * Usage: test_seq_state [MODEL...]; without arguments stories260K (TLM_SHARED or ../shared). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tinylm.h"

enum { NCTX = 48, NB = 8, PA = 12, PB = 9 };

static const char *g_name = "";
static int32_t g_vocab;
static char g_dir[64];

static tlm_context *mk(const tlm_model *m, int32_t n_seq, int32_t n_ctx, tlm_type kv)
{
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = NB;
    cp.n_threads = 2;
    cp.kv_type = kv;
    cp.n_seq_max = n_seq;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        CHECK(0, "%s: create (%d sequences, n_ctx %d): %s", g_name, n_seq, n_ctx, err.message);
        return NULL;
    }
    return ctx;
}

/* Evaluates ids[0..n) at the next positions of seq, NB at a time; the last token's logits to
 * row when row is not NULL. */
static bool feed(tlm_context *ctx, int32_t seq, const int32_t *ids, int32_t n, float *row)
{
    int32_t seqs[NB];
    bool want[NB] = {false};
    for (int i = 0; i < NB; i++)
        seqs[i] = seq;
    for (int32_t s = 0; s < n; s += NB) {
        int32_t k = n - s < NB ? n - s : NB;
        bool last = s + k == n && row;
        want[k - 1] = last;
        tlm_batch b = {.n_tokens = k,
                       .token = ids + s,
                       .seq_id = seqs,
                       .logits = last ? want : NULL,
                       .out_logits = last ? row : NULL};
        tlm_status st = tlm_context_eval_batch(ctx, &b);
        want[k - 1] = false;
        if (st != TLM_OK) {
            CHECK(0, "%s: feed seq %d: %s", g_name, seq, tlm_context_error(ctx));
            return false;
        }
    }
    return true;
}

/* One batch with a token for each of two sequences (the mixed batches of a server). */
static bool feed_pair(tlm_context *ctx, int32_t s0, int32_t t0, int32_t s1, int32_t t1)
{
    int32_t tok[2] = {t0, t1}, sq[2] = {s0, s1};
    tlm_batch b = {.n_tokens = 2, .token = tok, .seq_id = sq};
    return tlm_context_eval_batch(ctx, &b) == TLM_OK;
}

/* Sequence seq's state bytes (caller frees); *size 0 on failure. */
static unsigned char *seq_bytes(const tlm_context *ctx, int32_t seq, size_t *size)
{
    *size = 0;
    size_t need = 0;
    if (tlm_context_seq_save_buffer(ctx, seq, NULL, 0, &need, NULL) != TLM_ERR_BUFFER_TOO_SMALL)
        return NULL;
    unsigned char *buf = malloc(need);
    if (buf && tlm_context_seq_save_buffer(ctx, seq, buf, need, size, NULL) != TLM_OK) *size = 0;
    return buf;
}

/* True when sequence seq's state is `want` (want_size bytes). */
static bool same_state(const tlm_context *ctx, int32_t seq, const unsigned char *want,
                       size_t want_size)
{
    size_t n = 0;
    unsigned char *got = seq_bytes(ctx, seq, &n);
    bool same = got && n == want_size && memcmp(got, want, n) == 0;
    free(got);
    return same;
}

static unsigned char *read_all(const char *path, size_t *n)
{
    *n = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    unsigned char *p = len > 0 ? malloc((size_t)len) : NULL;
    if (p) *n = fread(p, 1, (size_t)len, fp);
    fclose(fp);
    return p;
}

static bool write_all(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");
    bool ok = fp && fwrite(p, 1, n, fp) == n;
    return fp && fclose(fp) == 0 && ok;
}

static void prompts(int32_t *a, int32_t *b, int32_t n)
{
    for (int32_t i = 0; i < n; i++) {
        a[i] = (int32_t)((i * 37 + 11) % g_vocab);
        b[i] = (int32_t)((i * 53 + 29) % g_vocab);
    }
}

/* ---- save, go on, restore ------------------------------------------------------------------ */

static void test_restore(const tlm_model *m)
{
    int32_t a[NCTX], b[NCTX];
    prompts(a, b, NCTX);
    size_t V = (size_t)g_vocab * sizeof(float);
    tlm_context *ctx = mk(m, 2, NCTX, TLM_TYPE_F32), *twin = mk(m, 2, NCTX, TLM_TYPE_F32);
    tlm_context *three = mk(m, 3, NCTX, TLM_TYPE_F32), *wide = mk(m, 4, 2 * NCTX, TLM_TYPE_F32);
    float *ref = malloc(V), *got = malloc(V), *got2 = malloc(V);
    unsigned char *s1 = NULL, *file = NULL, *again = NULL, *b0 = NULL, *w0 = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/seq1.state", g_dir);
    tlm_error err = {0};
    if (!ctx || !twin || !three || !wide || !ref || !got || !got2) goto done;
    for (int k = 0; k < 2; k++) { /* the same two prompts in ctx and its twin */
        tlm_context *c = k ? twin : ctx;
        feed(c, 0, a, PA, NULL);
        feed(c, 1, b, PB, NULL);
    }
    size_t n1 = 0, nf = 0, n0 = 0;
    s1 = seq_bytes(ctx, 1, &n1);
    CHECK(s1 && n1 > 104, "%s: seq 1 saved to a buffer (%zu bytes)", g_name, n1);
    CHECK(tlm_context_seq_save(ctx, 1, path, &err) == TLM_OK, "%s: seq 1 saved to a file: %s",
          g_name, err.message);
    file = read_all(path, &nf);
    CHECK(file && s1 && nf == n1 && memcmp(file, s1, n1) == 0,
          "%s: file and buffer hold the same %zu bytes (file %zu)", g_name, n1, nf);
    if (!s1 || !file) goto done;
    int32_t n_used_saved = 0;
    memcpy(&n_used_saved, s1 + 100, 4);
    CHECK(tlm_context_seq_n_past(ctx, 1) == PB && n_used_saved == PB,
          "%s: the file holds seq 1's %d cells (header says %d)", g_name, PB, n_used_saved);
    /* what seq 1 gives right after the save point: its next token alone */
    int32_t x = b[PB];
    feed(ctx, 1, &x, 1, ref);
    /* both go on (mixed batches, seq 1 past the save point), then seq 1 is restored */
    for (int i = 0; i < 6; i++)
        CHECK(feed_pair(ctx, 0, a[PA + i], 1, b[PB + 1 + i]) &&
                  feed_pair(twin, 0, a[PA + i], 1, b[PB + 1 + i]),
              "%s: both sequences go on, step %d", g_name, i);
    b0 = seq_bytes(ctx, 0, &n0);
    CHECK(tlm_context_seq_n_past(ctx, 1) == PB + 7 &&
              tlm_context_seq_load(ctx, 1, path, &err) == TLM_OK &&
              tlm_context_seq_n_past(ctx, 1) == PB && tlm_context_seq_n_past(ctx, 0) == PA + 6,
          "%s: seq 1 restored from the file: %s", g_name, err.message);
    CHECK(b0 && same_state(ctx, 0, b0, n0) && !tlm_context_logits(ctx),
          "%s: seq 0's state unchanged by the load, the context's logits dropped", g_name);
    feed(ctx, 1, &x, 1, got);
    CHECK(memcmp(ref, got, V) == 0, "%s: restored seq 1's next logits = at the save point", g_name);
    /* seq 0 goes on with the bits of the twin that never loaded anything */
    int32_t y = a[PA + 6];
    feed(ctx, 0, &y, 1, got);
    feed(twin, 0, &y, 1, got2);
    CHECK(memcmp(got, got2, V) == 0, "%s: seq 0 after the load = the twin's seq 0", g_name);

    /* into another sequence id of a context of 3 (its neighbours untouched) */
    feed(three, 0, a, 5, NULL);
    feed(three, 1, b + 3, 20, NULL);
    feed(three, 2, a + 7, 4, NULL);
    size_t t0 = 0, t1 = 0;
    unsigned char *tb0 = seq_bytes(three, 0, &t0), *tb1 = seq_bytes(three, 1, &t1);
    CHECK(tlm_context_seq_load_buffer(three, 2, s1, n1, &err) == TLM_OK &&
              tlm_context_seq_n_past(three, 2) == PB,
          "%s: seq 1's state into seq 2 of another context: %s", g_name, err.message);
    CHECK(tb0 && tb1 && same_state(three, 0, tb0, t0) && same_state(three, 1, tb1, t1),
          "%s: sequences 0 and 1 of that context unchanged", g_name);
    again = seq_bytes(three, 2, &nf);
    CHECK(again && nf == n1 && memcmp(again, s1, n1) == 0,
          "%s: saving the loaded sequence gives the same bytes", g_name);
    feed(three, 2, &x, 1, got);
    CHECK(memcmp(ref, got, V) == 0, "%s: seq 2 goes on as seq 1 did at the save point", g_name);
    free(tb0);
    free(tb1);

    /* into a context of another n_seq_max and n_ctx: its last sequence */
    feed(wide, 0, b, 30, NULL);
    w0 = seq_bytes(wide, 0, &n0);
    CHECK(tlm_context_seq_load(wide, 3, path, &err) == TLM_OK &&
              tlm_context_seq_n_past(wide, 3) == PB && w0 && same_state(wide, 0, w0, n0),
          "%s: into seq 3 of a context of 4 sequences and n_ctx %d: %s", g_name, 2 * NCTX,
          err.message);
    feed(wide, 3, &x, 1, got);
    CHECK(memcmp(ref, got, V) == 0, "%s: and it goes on with the same bits", g_name);
done:
    remove(path);
    free(s1);
    free(file);
    free(again);
    free(b0);
    free(w0);
    free(ref);
    free(got);
    free(got2);
    tlm_context_free(ctx);
    tlm_context_free(twin);
    tlm_context_free(three);
    tlm_context_free(wide);
}

/* ---- the whole-context calls and the sequence calls read each other's files -------------- */

static void test_kinds(const tlm_model *m)
{
    int32_t a[NCTX], b[NCTX];
    prompts(a, b, NCTX);
    size_t V = (size_t)g_vocab * sizeof(float);
    tlm_context *one = mk(m, 1, NCTX, TLM_TYPE_F32), *two = mk(m, 2, NCTX, TLM_TYPE_F32);
    float *ref = malloc(V), *got = malloc(V);
    unsigned char *whole = NULL, *seq = NULL;
    tlm_error err = {0};
    if (!one || !two || !ref || !got) goto done;
    feed(one, 0, a, PA, got);
    size_t nw = 0, ns = 0;
    tlm_context_save_buffer(one, NULL, 0, &nw, NULL);
    whole = malloc(nw);
    CHECK(whole && tlm_context_save_buffer(one, whole, nw, &nw, &err) == TLM_OK,
          "%s: whole-context save: %s", g_name, err.message);
    seq = seq_bytes(one, 0, &ns);
    /* the same bytes but the logits: has_logits (offset 88) 1 against 0 */
    uint32_t hl_w = 9, hl_s = 9;
    if (whole && seq && nw >= 104 && ns >= 104) {
        memcpy(&hl_w, whole + 88, 4);
        memcpy(&hl_s, seq + 88, 4);
    }
    CHECK(seq && nw == ns + V && hl_w == 1 && hl_s == 0 && memcmp(whole + 92, seq + 92, 12) == 0,
          "%s: a sequence's file is the context's file without the logits (%zu and %zu bytes)",
          g_name, nw, ns);
    if (!whole || !seq) goto done;
    /* a whole-context file into seq 1: its logits skipped, seq 0 left alone */
    feed(two, 0, b, 4, NULL);
    CHECK(tlm_context_seq_load_buffer(two, 1, whole, nw, &err) == TLM_OK &&
              tlm_context_seq_n_past(two, 1) == PA && tlm_context_seq_n_past(two, 0) == 4 &&
              !tlm_context_logits(two),
          "%s: a tlm_context_save state loads as sequence 1: %s", g_name, err.message);
    int32_t x = a[PA];
    feed(one, 0, &x, 1, ref);
    feed(two, 1, &x, 1, got);
    CHECK(memcmp(ref, got, V) == 0, "%s: and goes on as the saved context", g_name);
    /* a sequence file through tlm_context_load: sequence 0, the others cleared, no logits */
    CHECK(tlm_context_load_buffer(two, seq, ns, &err) == TLM_OK && tlm_context_n_past(two) == PA &&
              tlm_context_seq_n_past(two, 1) == 0 && !tlm_context_logits(two),
          "%s: a sequence state loads through tlm_context_load_buffer: %s", g_name, err.message);
    /* an empty sequence saves and loads as empty */
    size_t ne = 0;
    unsigned char *empty = seq_bytes(two, 1, &ne);
    CHECK(empty && ne == 104 && tlm_context_seq_load_buffer(two, 0, empty, ne, &err) == TLM_OK &&
              tlm_context_seq_n_past(two, 0) == 0,
          "%s: an empty sequence (%zu bytes) empties its target: %s", g_name, ne, err.message);
    free(empty);
done:
    free(whole);
    free(seq);
    free(ref);
    free(got);
    tlm_context_free(one);
    tlm_context_free(two);
}

/* ---- refusals ---------------------------------------------------------------------------- */

typedef struct fixture {
    tlm_context *ctx;
    unsigned char *s0, *s2; /* the untouched neighbours' states */
    size_t n0, n2;
} fixture;

/* Seq 1 refilled, then one load into it: the status, seq 1 empty, seqs 0 and 2 untouched. */
static bool refused(fixture *f, tlm_status st, tlm_status want)
{
    return st == want && tlm_context_seq_n_past(f->ctx, 1) == 0 &&
           same_state(f->ctx, 0, f->s0, f->n0) && same_state(f->ctx, 2, f->s2, f->n2);
}

/* Seq 1 back to the 6 tokens kept in seq 3 (fed once): a copy of cells, not a forward pass,
 * since the truncation and corruption loops below refill thousands of times. */
static void refill(fixture *f)
{
    if (tlm_context_seq_n_past(f->ctx, 1) == 0) tlm_context_seq_copy(f->ctx, 3, 1);
}

static void test_refusals(const tlm_model *m, const tlm_model *other)
{
    int32_t a[NCTX], b[NCTX];
    prompts(a, b, NCTX);
    fixture f = {.ctx = mk(m, 4, NCTX, TLM_TYPE_F32)}; /* seq 3: what refill copies */
    tlm_context *src = mk(m, 2, NCTX, TLM_TYPE_F32);
    unsigned char *st = NULL, *c = NULL;
    char bad[128];
    snprintf(bad, sizeof bad, "%s/bad.state", g_dir);
    tlm_error err = {0};
    tlm_status s;
    if (!f.ctx || !src) goto done;
    feed(f.ctx, 0, a, 10, NULL);
    feed(f.ctx, 2, b, 7, NULL);
    feed(f.ctx, 3, a, 6, NULL);
    f.s0 = seq_bytes(f.ctx, 0, &f.n0);
    f.s2 = seq_bytes(f.ctx, 2, &f.n2);
    feed(src, 1, b + 1, PB, NULL);
    size_t n = 0;
    st = seq_bytes(src, 1, &n);
    c = malloc(n ? n : 1);
    if (!f.s0 || !f.s2 || !st || !n || !c) goto done;

    /* bad ids: refused, nothing changed (seq 1 keeps its tokens) */
    refill(&f);
    size_t dummy = 0;
    CHECK(tlm_context_seq_load_buffer(f.ctx, 4, st, n, &err) == TLM_ERR_ARG &&
              strstr(err.message, "sequence id 4") &&
              tlm_context_seq_load_buffer(f.ctx, -1, st, n, &err) == TLM_ERR_ARG &&
              tlm_context_seq_load(f.ctx, 4, "/nonexistent", &err) == TLM_ERR_ARG &&
              tlm_context_seq_save_buffer(f.ctx, 4, NULL, 0, &dummy, &err) == TLM_ERR_ARG &&
              tlm_context_seq_save(f.ctx, -1, bad, &err) == TLM_ERR_ARG &&
              tlm_context_seq_n_past(f.ctx, 1) == 6 && same_state(f.ctx, 0, f.s0, f.n0) &&
              same_state(f.ctx, 2, f.s2, f.n2),
          "%s: unknown sequence ids refused, nothing changed: %s", g_name, err.message);
    CHECK(tlm_context_seq_save_buffer(NULL, 0, NULL, 0, &dummy, &err) == TLM_ERR_ARG &&
              tlm_context_seq_save_buffer(f.ctx, 0, NULL, 0, NULL, &err) == TLM_ERR_ARG &&
              tlm_context_seq_load_buffer(NULL, 0, st, n, &err) == TLM_ERR_ARG &&
              tlm_context_seq_save(f.ctx, 0, NULL, &err) == TLM_ERR_ARG &&
              tlm_context_seq_load(NULL, 0, bad, &err) == TLM_ERR_ARG,
          "%s: NULL arguments refused", g_name);
    CHECK(tlm_context_seq_save_buffer(src, 1, c, n - 1, &dummy, &err) == TLM_ERR_BUFFER_TOO_SMALL &&
              dummy == n,
          "%s: a buffer one byte short: TLM_ERR_BUFFER_TOO_SMALL with the size", g_name);
    refill(&f);
    CHECK(refused(&f, tlm_context_seq_load_buffer(f.ctx, 1, NULL, 0, &err), TLM_ERR_ARG),
          "%s: no bytes: %s", g_name, err.message);
    refill(&f);
    CHECK(refused(&f, tlm_context_seq_load(f.ctx, 1, "/nonexistent/x.state", &err), TLM_ERR_IO),
          "%s: a missing file: %s", g_name, err.message);

    /* lying or broken fields: header offsets as in context_file.c */
    struct {
        size_t at;
        int32_t value;
        tlm_status want;
        const char *what;
    } lies[] = {
        {0, 0x4e4f4e, TLM_ERR_FORMAT, "bad magic"},
        {8, 1, TLM_ERR_FORMAT, "version 1"},
        {8, 3, TLM_ERR_FORMAT, "a future version"},
        {12, 100, TLM_ERR_FORMAT, "another header size"},
        {16, 0x1234, TLM_ERR_ARG, "another model's fingerprint"},
        {76, 1, TLM_ERR_ARG, "another KV type"},
        {88, 1, TLM_ERR_FORMAT, "logits claimed but absent"},
        {88, 7, TLM_ERR_FORMAT, "has_logits not 0 or 1"},
        {96, PB + 1, TLM_ERR_FORMAT, "n_past lies (size disagrees)"},
        {96, -1, TLM_ERR_FORMAT, "negative n_past"},
        {100, PB + 1, TLM_ERR_FORMAT, "n_used > n_past"},
        {100, 1 << 30, TLM_ERR_FORMAT, "huge n_used"},
        {96, NCTX + 1, TLM_ERR_ARG, "more positions than n_ctx"},
        {104, g_vocab, TLM_ERR_FORMAT, "a token outside the vocabulary"},
        {104 + 4 * PB + 4, 0, TLM_ERR_FORMAT, "a cell position out of order"},
        {104 + 4 * PB, PB, TLM_ERR_FORMAT, "a cell position at n_past"},
        {104 + 4 * PB, -1, TLM_ERR_FORMAT, "a negative cell position"},
    };
    for (size_t i = 0; i < COUNT(lies); i++) {
        refill(&f);
        memcpy(c, st, n);
        memcpy(c + lies[i].at, &lies[i].value, 4);
        s = tlm_context_seq_load_buffer(f.ctx, 1, c, n, &err);
        CHECK(refused(&f, s, lies[i].want) && err.message[0], "%s: %s: status %d (want %d): %s",
              g_name, lies[i].what, (int)s, (int)lies[i].want, err.message);
    }
    refill(&f);
    write_all(bad, st, n - 1);
    s = tlm_context_seq_load(f.ctx, 1, bad, &err);
    CHECK(refused(&f, s, TLM_ERR_FORMAT), "%s: a truncated file: %d %s", g_name, (int)s,
          err.message);

    /* another model, another KV type, a context too short for it */
    if (other) {
        tlm_context *o = mk(other, 2, NCTX, TLM_TYPE_F32);
        feed(o, 1, b, PB, NULL);
        size_t no = 0;
        unsigned char *os = o ? seq_bytes(o, 1, &no) : NULL;
        refill(&f);
        s = os ? tlm_context_seq_load_buffer(f.ctx, 1, os, no, &err) : TLM_OK;
        CHECK(refused(&f, s, TLM_ERR_ARG) && strstr(err.message, "another model"),
              "%s: a state of another model: %s", g_name, err.message);
        free(os);
        tlm_context_free(o);
    } else {
        MISSING(1, "%s: no second model for the wrong-model case", g_name);
    }
    tlm_context *f16 = mk(m, 2, NCTX, TLM_TYPE_F16), *shortc = mk(m, 2, PB - 1, TLM_TYPE_F32);
    CHECK(f16 && tlm_context_seq_load_buffer(f16, 1, st, n, &err) == TLM_ERR_ARG &&
              strstr(err.message, "F32"),
          "%s: an F32 cache into an F16 context: %s", g_name, err.message);
    CHECK(shortc && tlm_context_seq_load_buffer(shortc, 0, st, n, &err) == TLM_ERR_ARG &&
              strstr(err.message, "do not fit"),
          "%s: into a context of n_ctx %d: %s", g_name, PB - 1, err.message);
    tlm_context_free(f16);
    tlm_context_free(shortc);

    /* every truncation, and seeded byte corruption: never OK when short, never a crash, the
     * target empty on refusal, the neighbours untouched */
    int bad_trunc = 0, bad_flip = 0, n_ok = 0;
    for (size_t len = 0; len < n; len++) {
        refill(&f);
        s = tlm_context_seq_load_buffer(f.ctx, 1, st, len, &err);
        if (!refused(&f, s, len == 0 ? TLM_ERR_ARG : TLM_ERR_FORMAT)) bad_trunc++;
    }
    CHECK(bad_trunc == 0, "%s: %d of %zu truncations not refused cleanly", g_name, bad_trunc, n);
    rng_seed(15);
    for (int k = 0; k < 2000; k++) {
        refill(&f);
        memcpy(c, st, n);
        size_t at =
            (size_t)(rng_next() % (k % 2 ? n : 104 + 8 * (size_t)PB)); /* half in the header */
        c[at] ^= (unsigned char)(1u << (rng_next() % 8));
        s = tlm_context_seq_load_buffer(f.ctx, 1, c, n, &err);
        bool others = same_state(f.ctx, 0, f.s0, f.n0) && same_state(f.ctx, 2, f.s2, f.n2);
        if (s == TLM_OK) /* a flip in the K/V bytes or a token is not detectable */
            n_ok++;
        else if (tlm_context_seq_n_past(f.ctx, 1) != 0 || !err.message[0])
            others = false;
        if (!others) bad_flip++;
    }
    CHECK(bad_flip == 0, "%s: %d of 2000 corrupted states left a neighbour or the target wrong",
          g_name, bad_flip);
    printf("%s: 2000 one-bit corruptions, %d loaded (undetectable: data bytes)\n", g_name, n_ok);
done:
    remove(bad);
    free(st);
    free(c);
    free(f.s0);
    free(f.s2);
    tlm_context_free(f.ctx);
    tlm_context_free(src);
}

/* Entries of g_dir besides "." and "..". */
static int dir_entries(void)
{
    DIR *d = opendir(g_dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d) closedir(d);
    return n;
}

/* The longest file name a file system takes: its temporary name must not be longer. */
static void test_long_name(const tlm_model *m)
{
    char path[512], name[256];
    memset(name, 'c', 255);
    name[255] = '\0';
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    tlm_context *ctx = mk(m, 2, NCTX, TLM_TYPE_F32);
    int32_t a[NCTX], b[NCTX];
    prompts(a, b, NCTX);
    tlm_error err = {0};
    int before = dir_entries();
    if (ctx && feed(ctx, 0, a, PA, NULL)) {
        CHECK(tlm_context_seq_save(ctx, 0, path, &err) == TLM_OK,
              "%s: saved to a 255-byte file name: %s", g_name, err.message);
        CHECK(dir_entries() == before + 1, "%s: the file alone is left (%d entries, were %d)",
              g_name, dir_entries(), before);
        CHECK(tlm_context_seq_load(ctx, 1, path, &err) == TLM_OK &&
                  tlm_context_seq_n_past(ctx, 1) == PA,
              "%s: loaded from it: %s", g_name, err.message);
    }
    remove(path);
    tlm_context_free(ctx);
}

static void test_model(const char *path)
{
    tlm_model *m = NULL, *other = NULL;
    tlm_error err = {0};
    g_name = path;
    if (tlm_model_load(path, NULL, &m, &err) != TLM_OK) {
        CHECK(0, "%s: %s", path, err.message);
        return;
    }
    g_vocab = tlm_model_get_info(m)->n_vocab;
    /* another model of the same shapes: this one written as F16 */
    char f16[128];
    snprintf(f16, sizeof f16, "%s/other.gguf", g_dir);
    tlm_save_params sp = tlm_save_default_params();
    sp.type = TLM_TYPE_F16;
    if (tlm_model_save_gguf(m, f16, &sp, &err) == TLM_OK) tlm_model_load(f16, NULL, &other, &err);
    test_restore(m);
    test_kinds(m);
    test_refusals(m, other);
    test_long_name(m);
    tlm_model_free(other);
    tlm_model_free(m);
    remove(f16);
}

int main(int argc, char **argv)
{
    snprintf(g_dir, sizeof g_dir, "/tmp/tlm-seqstate-XXXXXX");
    if (!mkdtemp(g_dir)) {
        printf("FAIL: mkdtemp\n");
        return 1;
    }
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            test_model(argv[i]);
    } else {
        const char *shared = getenv("TLM_SHARED");
        char stories[4096];
        snprintf(stories, sizeof stories, "%s/models/stories260K.bin",
                 shared ? shared : "../shared");
        FILE *fp = fopen(stories, "rb");
        if (!fp)
            MISSING(1, "%s not found", stories);
        else {
            fclose(fp);
            test_model(stories);
        }
    }
    rmdir(g_dir);
    return finish("seq_state");
}
