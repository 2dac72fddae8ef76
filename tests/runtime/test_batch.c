/* test_batch.c - several sequences in one context (tlm_context_eval_batch, lib/runtime/batch.c).
 * The property: a sequence's logits in a batch are its logits alone (a context of one
 * sequence, evaluated with tlm_context_eval, which tests/test_architectures.py holds to the
 * NumPy reference) within 1e-4 at F32, and its greedy tokens are the same; for requests of
 * mixed prompt lengths that start and end at different steps (ids reused), with all rows or
 * only the needed ones asked for; a forked prefix (seq_copy) continues as the prefix
 * evaluated again; per-sequence remove, shift and keep; every refused batch leaves every
 * sequence as it was.
 *
 * Usage: test_batch [MODEL...]; without arguments stories260K (TLM_SHARED or ../shared).
 * tests/test_batch.py runs it on a small model of every family (a sliding window among them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tinylm.h"

enum { NCTX = 64, NB = 8, TOL_X1E6 = 100 };
#define TOL 1e-4f

static const char *g_name = "";
static int32_t g_vocab;

static tlm_context *mk(const tlm_model *m, int32_t n_seq)
{
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = NCTX;
    cp.n_batch = NB; /* small: prompts are split, and a window cache stays a ring */
    cp.n_threads = 2;
    cp.kv_type = TLM_TYPE_F32;
    cp.n_seq_max = n_seq;
    tlm_context *ctx = NULL;
    tlm_error err = {0};
    if (tlm_context_create(m, &cp, &ctx, &err) != TLM_OK) {
        CHECK(0, "%s: create with %d sequences: %s", g_name, n_seq, err.message);
        return NULL;
    }
    return ctx;
}

static float max_diff(const float *a, const float *b, int64_t n)
{
    float worst = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) worst = d; /* NaN sticks */
    }
    return worst;
}

static int32_t argmax(const float *x)
{
    int32_t best = 0;
    for (int32_t v = 1; v < g_vocab; v++)
        if (x[v] > x[best]) best = v;
    return best;
}

/* ---- requests of a toy server, alone and batched ---------------------------------------- */

typedef struct request {
    int32_t seq, start, n_prompt, n_gen;
    int32_t tok[NCTX]; /* prompt then the greedy tokens, alone */
    int32_t got[NCTX]; /* the same, batched */
    float *alone;      /* [n_prompt + n_gen - 1][vocab]: logits after each fed token */
    int32_t fed;       /* batched: tokens evaluated */
    float worst;
    bool diverged, started;
} request;

static int32_t req_len(const request *r) { return r->n_prompt + r->n_gen; }

/* The request alone: its prompt in one eval (split into n_batch chunks), then one token at a
 * time, greedy; every row kept. */
static bool run_alone(const tlm_model *m, request *r)
{
    tlm_context *ctx = mk(m, 1);
    if (!ctx) return false;
    int32_t L = req_len(r);
    r->alone = calloc((size_t)(L - 1) * (size_t)g_vocab, sizeof(float));
    bool ok = r->alone && tlm_context_eval(ctx, r->tok, r->n_prompt, r->alone) == TLM_OK;
    for (int32_t i = r->n_prompt - 1; ok && i < L - 1; i++) {
        r->tok[i + 1] = argmax(r->alone + (int64_t)i * g_vocab);
        if (i + 1 < L - 1)
            ok = tlm_context_eval(ctx, &r->tok[i + 1], 1, r->alone + (int64_t)(i + 1) * g_vocab) ==
                 TLM_OK;
    }
    CHECK(ok, "%s: alone run of a %d-token prompt: %s", g_name, r->n_prompt,
          tlm_context_error(ctx));
    tlm_context_free(ctx);
    return ok;
}

/* Batched: each step every started request adds its next tokens (prompt: as many as fit,
 * decode: one), taken round robin so sequences interleave within the batch; a request starts
 * at its step once its sequence id is free, and frees it (seq_remove) when done. all_rows:
 * logits of every token, else only of the tokens whose logits decide the next one. */
static void run_batched(const tlm_model *m, request *rq, int n_req, int32_t n_seq, bool all_rows)
{
    tlm_context *ctx = mk(m, n_seq);
    if (!ctx) return;
    float *out = malloc((size_t)NB * (size_t)g_vocab * sizeof(float));
    int32_t tok[NB], seq[NB], pos[NB], who[NB];
    bool want[NB];
    bool busy[16] = {false};
    for (int i = 0; i < n_req; i++) {
        rq[i].fed = 0, rq[i].worst = 0.0f, rq[i].diverged = rq[i].started = false;
        memcpy(rq[i].got, rq[i].tok, sizeof rq[i].got[0] * (size_t)rq[i].n_prompt);
    }
    int done = 0;
    for (int step = 0; done < n_req && step < 400; step++) {
        for (int i = 0; i < n_req; i++)
            if (!rq[i].started && step >= rq[i].start && !busy[rq[i].seq])
                rq[i].started = busy[rq[i].seq] = true;
        int n = 0, took[16] = {0};
        for (bool more = true; more && n < NB;) { /* round robin, reversed on odd steps */
            more = false;
            for (int k = 0; k < n_req && n < NB; k++) {
                request *r = &rq[step % 2 ? n_req - 1 - k : k];
                int i = (int)(r - rq);
                if (!r->started || r->fed + took[i] >= req_len(r) - 1) continue;
                int32_t at = r->fed + took[i];
                if (at >= r->n_prompt && took[i] > 0) continue; /* decode: one per step */
                tok[n] = r->got[at], seq[n] = r->seq, pos[n] = at, who[n] = i;
                want[n] = all_rows || at >= r->n_prompt - 1;
                took[i]++, n++, more = true;
            }
        }
        if (!n) continue;
        tlm_batch b = {.n_tokens = n,
                       .token = tok,
                       .seq_id = seq,
                       .pos = step % 3 ? pos : NULL,
                       .logits = want,
                       .out_logits = out};
        if (!CHECK(tlm_context_eval_batch(ctx, &b) == TLM_OK, "%s: step %d batch of %d: %s", g_name,
                   step, n, tlm_context_error(ctx)))
            break;
        for (int t = 0, row = 0; t < n; t++) {
            if (!want[t]) continue;
            request *r = &rq[who[t]];
            const float *lg = out + (int64_t)row++ * g_vocab;
            float d = max_diff(lg, r->alone + (int64_t)pos[t] * g_vocab, g_vocab);
            if (!(d <= r->worst)) r->worst = d;
            if (pos[t] >= r->n_prompt - 1) {
                r->got[pos[t] + 1] = argmax(lg);
                r->diverged |= r->got[pos[t] + 1] != r->tok[pos[t] + 1];
            }
        }
        for (int i = 0; i < n_req; i++) {
            request *r = &rq[i];
            r->fed += took[i];
            if (took[i] && r->fed == req_len(r) - 1) { /* done: its id is free again */
                CHECK(tlm_context_seq_n_past(ctx, r->seq) == r->fed, "%s: request %d n_past %d",
                      g_name, i, tlm_context_seq_n_past(ctx, r->seq));
                tlm_context_seq_remove(ctx, r->seq, 0, -1);
                busy[r->seq] = false;
                done++;
            }
        }
    }
    CHECK(done == n_req, "%s: %d of %d requests finished", g_name, done, n_req);
    for (int i = 0; i < n_req; i++)
        CHECK(rq[i].worst <= TOL && !rq[i].diverged && rq[i].fed == req_len(&rq[i]) - 1,
              "%s: request %d (seq %d, prompt %d, %d generated, %s rows): max |batched - alone| "
              "%.2e, greedy tokens %s",
              g_name, i, rq[i].seq, rq[i].n_prompt, rq[i].n_gen, all_rows ? "all" : "needed",
              (double)rq[i].worst, rq[i].diverged ? "differ" : "equal");
    free(out);
    tlm_context_free(ctx);
}

static void test_requests(const tlm_model *m)
{
    /* seq, start step, prompt, generated: mixed lengths; ids 1 and 2 are used twice */
    static const int32_t plan[][4] = {{0, 0, 13, 10}, {1, 0, 3, 20}, {2, 2, 21, 6},
                                      {3, 5, 1, 12},  {1, 30, 5, 9}, {2, 12, 9, 9}};
    enum { NR = 6 };
    request rq[NR];
    memset(rq, 0, sizeof rq);
    rng_seed(77);
    bool ok = true;
    for (int i = 0; i < NR; i++) {
        rq[i].seq = plan[i][0], rq[i].start = plan[i][1];
        rq[i].n_prompt = plan[i][2], rq[i].n_gen = plan[i][3];
        for (int j = 0; j < rq[i].n_prompt; j++)
            rq[i].tok[j] = (int32_t)(rng_next() % (uint64_t)g_vocab);
        ok = ok && run_alone(m, &rq[i]);
    }
    if (ok) {
        run_batched(m, rq, NR, 4, true);
        run_batched(m, rq, NR, 4, false);
    }
    for (int i = 0; i < NR; i++)
        free(rq[i].alone);
}

/* ---- fork, keep, shift -------------------------------------------------------------------- */

/* Logits rows of `ids` evaluated alone from an empty context ([n][vocab], caller frees). */
static float *alone_rows(const tlm_model *m, const int32_t *ids, int32_t n)
{
    tlm_context *ctx = mk(m, 1);
    float *rows = malloc((size_t)n * (size_t)g_vocab * sizeof(float));
    if (!ctx || !rows || tlm_context_eval(ctx, ids, n, rows) != TLM_OK) {
        CHECK(0, "%s: alone rows", g_name);
        free(rows);
        rows = NULL;
    }
    tlm_context_free(ctx);
    return rows;
}

/* Evaluates ids[0..n) at the next positions of seq, in batches, every row into rows. */
static bool feed(tlm_context *ctx, int32_t seq, const int32_t *ids, int32_t n, float *rows)
{
    int32_t seqs[NB];
    bool want[NB];
    for (int i = 0; i < NB; i++)
        seqs[i] = seq, want[i] = true;
    for (int32_t s = 0; s < n; s += NB) {
        tlm_batch b = {.n_tokens = n - s < NB ? n - s : NB,
                       .token = ids + s,
                       .seq_id = seqs,
                       .logits = rows ? want : NULL,
                       .out_logits = rows ? rows + (int64_t)s * g_vocab : NULL};
        if (tlm_context_eval_batch(ctx, &b) != TLM_OK) {
            CHECK(0, "%s: feed seq %d: %s", g_name, seq, tlm_context_error(ctx));
            return false;
        }
    }
    return true;
}

static void test_fork(const tlm_model *m)
{
    enum { P = 10, C1 = 5, C2 = 7 };
    int32_t a[P + C1], b[P + C2 + 1];
    for (int i = 0; i < P + C2 + 1; i++)
        b[i] = (int32_t)((i * 31 + 7) % g_vocab);
    memcpy(a, b, sizeof a[0] * P);
    for (int i = 0; i < C1; i++)
        a[P + i] = (int32_t)((i * 13 + 3) % g_vocab);
    float *ra = alone_rows(m, a, P + C1), *rb = alone_rows(m, b, P + C2 + 1);
    tlm_context *ctx = mk(m, 3);
    float *rows = malloc((size_t)(P + C2 + 1) * (size_t)g_vocab * sizeof(float));
    if (!ra || !rb || !ctx || !rows) goto done;
    /* the prefix once, forked into two sequences that go on differently */
    feed(ctx, 0, a, P, NULL);
    CHECK(tlm_context_seq_copy(ctx, 0, 1) == TLM_OK && tlm_context_seq_copy(ctx, 0, 2) == TLM_OK &&
              tlm_context_seq_n_past(ctx, 1) == P && tlm_context_seq_n_past(ctx, 2) == P,
          "%s: fork the prefix", g_name);
    feed(ctx, 1, a + P, C1, rows);
    CHECK(max_diff(rows, ra + (int64_t)P * g_vocab, (int64_t)C1 * g_vocab) <= TOL,
          "%s: forked prefix + continuation 1 = evaluated again", g_name);
    feed(ctx, 2, b + P, C2, rows);
    CHECK(max_diff(rows, rb + (int64_t)P * g_vocab, (int64_t)C2 * g_vocab) <= TOL,
          "%s: forked prefix + continuation 2 = evaluated again", g_name);
    /* copy onto a used sequence, cut its tail back to the prefix, go on elsewhere */
    CHECK(tlm_context_seq_copy(ctx, 1, 0) == TLM_OK &&
              tlm_context_seq_remove(ctx, 0, P, -1) == TLM_OK &&
              tlm_context_seq_n_past(ctx, 0) == P,
          "%s: copy, then keep the prefix", g_name);
    feed(ctx, 0, b + P, C2, rows);
    CHECK(max_diff(rows, rb + (int64_t)P * g_vocab, (int64_t)C2 * g_vocab) <= TOL,
          "%s: a copy's prefix after removing its tail = evaluated again", g_name);
    /* keep one: the others are empty, the kept one goes on */
    CHECK(tlm_context_seq_keep(ctx, 2) == TLM_OK && tlm_context_seq_n_past(ctx, 0) == 0 &&
              tlm_context_seq_n_past(ctx, 1) == 0 && tlm_context_seq_n_past(ctx, 2) == P + C2 &&
              tlm_context_n_past(ctx) == 0,
          "%s: keep sequence 2", g_name);
    feed(ctx, 2, b + P + C2, 1, rows);
    CHECK(max_diff(rows, rb + (int64_t)(P + C2) * g_vocab, g_vocab) <= TOL,
          "%s: the kept sequence goes on", g_name);
done:
    free(rows);
    free(ra);
    free(rb);
    tlm_context_free(ctx);
}

/* Remove and shift on sequence 1 of two = the same edits on a context of one. */
static void test_seq_shift(const tlm_model *m)
{
    enum { N = 20 };
    int32_t ids[N + 1];
    for (int i = 0; i <= N; i++)
        ids[i] = (int32_t)((i * 17 + 5) % g_vocab);
    tlm_context *one = mk(m, 1), *two = mk(m, 2);
    float *r1 = malloc((size_t)g_vocab * sizeof(float)),
          *r2 = malloc((size_t)g_vocab * sizeof(float));
    if (!one || !two || !r1 || !r2) goto done;
    tlm_context_eval(one, ids, N, NULL);
    tlm_status s1 = tlm_context_remove(one, 2, 6);
    tlm_status s1b = s1 == TLM_OK ? tlm_context_shift(one, 6, -1, -4) : s1;
    feed(two, 0, ids + 1, 9, NULL); /* something else in sequence 0 */
    feed(two, 1, ids, N, NULL);
    tlm_status s2 = tlm_context_seq_remove(two, 1, 2, 6);
    tlm_status s2b = s2 == TLM_OK ? tlm_context_seq_shift(two, 1, 6, -1, -4) : s2;
    CHECK(s1 == s2 && s1b == s2b, "%s: seq remove / shift statuses %d %d, alone %d %d", g_name,
          (int)s2, (int)s2b, (int)s1, (int)s1b);
    if (s1b != TLM_OK) goto done; /* e.g. a window cache that no longer holds the keys */
    CHECK(tlm_context_seq_n_past(two, 1) == tlm_context_n_past(one) &&
              tlm_context_seq_n_past(two, 0) == 9,
          "%s: n_past after the edits", g_name);
    tlm_context_eval(one, ids + N, 1, r1);
    feed(two, 1, ids + N, 1, r2);
    CHECK(max_diff(r1, r2, g_vocab) <= TOL, "%s: after remove + shift of sequence 1", g_name);
done:
    free(r1);
    free(r2);
    tlm_context_free(one);
    tlm_context_free(two);
}

/* ---- refusals: a clear status, every sequence unchanged ------------------------------------ */

/* The saved bytes of sequence 0 (with the context's logits: tlm_context_save_buffer) and of
 * sequence 1 (tlm_context_seq_save_buffer) one after the other. */
static unsigned char *state_of(tlm_context *ctx, size_t *size)
{
    size_t n0 = 0, n1 = 0;
    tlm_context_save_buffer(ctx, NULL, 0, &n0, NULL);
    tlm_context_seq_save_buffer(ctx, 1, NULL, 0, &n1, NULL);
    unsigned char *buf = malloc(n0 + n1);
    *size = buf && n0 && n1 && tlm_context_save_buffer(ctx, buf, n0, &n0, NULL) == TLM_OK &&
                    tlm_context_seq_save_buffer(ctx, 1, buf + n0, n1, &n1, NULL) == TLM_OK
                ? n0 + n1
                : 0;
    return buf;
}

static void test_refusals(const tlm_model *m)
{
    int32_t ids[NB + 1];
    for (int i = 0; i <= NB; i++)
        ids[i] = (int32_t)((i * 7 + 1) % g_vocab);
    tlm_context *ctx = mk(m, 2), *clean = mk(m, 2);
    float *out = malloc((size_t)(NB + 1) * (size_t)g_vocab * sizeof(float));
    float *want_rows = malloc((size_t)2 * (size_t)g_vocab * sizeof(float));
    if (!ctx || !clean || !out || !want_rows) goto done;
    for (int k = 0; k < 2; k++) { /* the same history in both: 5 tokens in seq 0, 3 in seq 1 */
        tlm_context *c = k ? clean : ctx;
        feed(c, 0, ids, 5, NULL);
        feed(c, 1, ids + 2, 3, NULL);
    }
    size_t size0 = 0, size1 = 0;
    unsigned char *before = state_of(ctx, &size0);
    int32_t tk[NB + 1], sq[NB + 1], ps[NB + 1];
    bool lg[NB + 1];
    /* valid tokens before the bad one, so a check after writing would show */
    struct {
        const char *what;
        int32_t sp[4][2]; /* (sequence, position) of 4 tokens */
        int kind;         /* 0: as listed, 1: NB + 1 tokens, 2: last id = n_vocab, 3: no out */
        tlm_status want;
    } cases[] = {
        {"sequence id n_seq_max", {{0, 5}, {1, 3}, {0, 6}, {2, 0}}, 0, TLM_ERR_ARG},
        {"sequence id -1", {{0, 5}, {1, 3}, {0, 6}, {-1, 0}}, 0, TLM_ERR_ARG},
        {"positions out of order within a sequence",
         {{0, 5}, {1, 3}, {0, 7}, {0, 6}},
         0,
         TLM_ERR_ARG},
        {"a position already in the cache", {{0, 5}, {0, 6}, {0, 7}, {1, 2}}, 0, TLM_ERR_ARG},
        {"a repeated position", {{0, 5}, {1, 3}, {0, 6}, {0, 6}}, 0, TLM_ERR_ARG},
        {"a position past the context",
         {{0, 5}, {1, 3}, {0, 6}, {0, NCTX}},
         0,
         TLM_ERR_CONTEXT_FULL},
        {"more tokens than the batch size", {{0, 5}, {1, 3}, {0, 6}, {1, 4}}, 1, TLM_ERR_ARG},
        {"a token outside the vocabulary", {{0, 5}, {1, 3}, {0, 6}, {1, 4}}, 2, TLM_ERR_ARG},
        {"logits wanted without out_logits", {{0, 5}, {1, 3}, {0, 6}, {1, 4}}, 3, TLM_ERR_ARG},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = cases[c].kind == 1 ? NB + 1 : 4;
        for (int t = 0; t < n; t++) {
            tk[t] = ids[t % NB];
            sq[t] = t < 4 ? cases[c].sp[t][0] : 0;
            ps[t] = t < 4 ? cases[c].sp[t][1] : 3 + t;
            lg[t] = true;
        }
        if (cases[c].kind == 2) tk[3] = g_vocab;
        tlm_batch b = {.n_tokens = n,
                       .token = tk,
                       .seq_id = sq,
                       .pos = ps,
                       .logits = lg,
                       .out_logits = cases[c].kind == 3 ? NULL : out};
        tlm_status st = tlm_context_eval_batch(ctx, &b);
        unsigned char *after = state_of(ctx, &size1);
        CHECK(st == cases[c].want && tlm_context_error(ctx)[0] &&
                  tlm_context_seq_n_past(ctx, 0) == 5 && tlm_context_seq_n_past(ctx, 1) == 3 &&
                  size0 && size1 == size0 && memcmp(before, after, size0) == 0,
              "%s: %s: status %d (want %d), \"%s\", n_past %d %d, state %s", g_name, cases[c].what,
              (int)st, (int)cases[c].want, tlm_context_error(ctx), tlm_context_seq_n_past(ctx, 0),
              tlm_context_seq_n_past(ctx, 1),
              size1 == size0 && after && memcmp(before, after, size0) == 0 ? "same" : "changed");
        free(after);
    }
    tlm_batch empty = {.n_tokens = 0, .token = ids};
    CHECK(tlm_context_eval_batch(ctx, NULL) == TLM_ERR_ARG &&
              tlm_context_eval_batch(ctx, &empty) == TLM_ERR_ARG &&
              tlm_context_eval_batch(NULL, &empty) == TLM_ERR_ARG,
          "%s: NULL or empty batch", g_name);
    CHECK(tlm_context_seq_remove(ctx, 2, 0, -1) == TLM_ERR_ARG &&
              tlm_context_seq_shift(ctx, -1, 0, -1, 1) == TLM_ERR_ARG &&
              tlm_context_seq_copy(ctx, 0, 2) == TLM_ERR_ARG &&
              tlm_context_seq_copy(ctx, 5, 0) == TLM_ERR_ARG &&
              tlm_context_seq_keep(ctx, 2) == TLM_ERR_ARG && tlm_context_error(ctx)[0] &&
              tlm_context_seq_n_past(ctx, 0) == 5 && tlm_context_seq_n_past(ctx, 1) == 3 &&
              tlm_context_seq_n_past(ctx, 7) == 0,
          "%s: sequence edits with unknown ids are refused and change nothing", g_name);
    /* both sequences go on as in the context that never saw the refused batches */
    int32_t nt[2] = {ids[5], ids[6]}, ns[2] = {1, 0};
    bool nw[2] = {true, true};
    tlm_batch next = {.n_tokens = 2, .token = nt, .seq_id = ns, .logits = nw, .out_logits = out};
    tlm_batch next2 = next;
    next2.out_logits = want_rows;
    CHECK(tlm_context_eval_batch(ctx, &next) == TLM_OK &&
              tlm_context_eval_batch(clean, &next2) == TLM_OK &&
              max_diff(out, want_rows, 2 * (int64_t)g_vocab) == 0.0f,
          "%s: after the refusals both sequences give the untouched context's bits", g_name);
    free(before);
done:
    free(out);
    free(want_rows);
    tlm_context_free(ctx);
    tlm_context_free(clean);
}

/* Params and plan: n_seq_max in range, the cache n_seq_max times one sequence's. */
static void test_params(const tlm_model *m)
{
    tlm_context_params cp = tlm_context_default_params();
    CHECK(cp.n_seq_max == 1, "%s: default n_seq_max %d", g_name, cp.n_seq_max);
    cp.n_ctx = NCTX;
    cp.n_batch = NB;
    tlm_context_memory one, four;
    tlm_error err = {0};
    tlm_status a = tlm_context_plan(m, &cp, &one, &err);
    cp.n_seq_max = 4;
    tlm_status b = tlm_context_plan(m, &cp, &four, &err);
    CHECK(a == TLM_OK && b == TLM_OK && four.kv_bytes == 4 * one.kv_bytes &&
              four.n_cells == one.n_cells,
          "%s: plan of 4 sequences: KV %llu, one %llu", g_name, (unsigned long long)four.kv_bytes,
          (unsigned long long)one.kv_bytes);
    tlm_context *ctx = NULL;
    for (int k = 0; k < 2; k++) {
        cp.n_seq_max = k ? 257 : -1;
        CHECK(tlm_context_create(m, &cp, &ctx, &err) == TLM_ERR_ARG && !ctx &&
                  strstr(err.message, "n_seq_max"),
              "%s: n_seq_max %d refused: %s", g_name, cp.n_seq_max, err.message);
    }
    ctx = mk(m, 3);
    CHECK(ctx && tlm_context_n_seq_max(ctx) == 3 && tlm_context_n_batch(ctx) == NB &&
              tlm_context_n_seq_max(NULL) == 0,
          "%s: n_seq_max and n_batch read back", g_name);
    tlm_context_free(ctx);
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
    g_vocab = tlm_model_get_info(m)->n_vocab;
    test_params(m);
    test_requests(m);
    test_fork(m);
    test_seq_shift(m);
    test_refusals(m);
    tlm_model_free(m);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        for (int i = 1; i < argc; i++)
            test_model(argv[i]);
        return finish("batch");
    }
    const char *shared = getenv("TLM_SHARED");
    char stories[4096];
    snprintf(stories, sizeof stories, "%s/models/stories260K.bin", shared ? shared : "../shared");
    FILE *fp = fopen(stories, "rb");
    if (!fp)
        MISSING(1, "%s not found", stories);
    else {
        fclose(fp);
        test_model(stories);
    }
    return finish("batch");
}
