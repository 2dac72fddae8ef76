/* test_sampler.c - greedy, temperature, top-k, top-p and min-p sampling, logit biases and
 * repetition / presence / frequency penalties against hand-worked distributions; the chain's
 * order; reproducibility per seed and after reset; parameter validation; the stop-string
 * matcher against hand-worked cases and a naive reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "tinylm.h"

static tlm_sampler *make(float temperature, int32_t top_k, float top_p, uint64_t seed,
                         int32_t n_vocab)
{
    tlm_sampler_params p = tlm_sampler_default_params();
    p.temperature = temperature;
    p.top_k = top_k;
    p.top_p = top_p;
    p.seed = seed;
    tlm_sampler *s = NULL;
    tlm_error err = {0};
    if (tlm_sampler_create(&p, n_vocab, &s, &err) != TLM_OK) {
        printf("sampler_create failed: %s\n", err.message);
        return NULL;
    }
    return s;
}

/* Draws n ids from s and counts them into counts[0..n_vocab); counts ids outside as bad. */
static int draw(tlm_sampler *s, const float *logits, int32_t n_vocab, int n, int *counts)
{
    int bad = 0;
    memset(counts, 0, (size_t)n_vocab * sizeof *counts);
    for (int i = 0; i < n; i++) {
        int32_t id = tlm_sampler_sample(s, logits);
        if (id < 0 || id >= n_vocab)
            bad++;
        else
            counts[id]++;
    }
    return bad;
}

static bool near(int count, int n, double want, double tol)
{
    return fabs((double)count / n - want) <= tol;
}

static uint64_t rng_state = 12345;
static float rand_logit(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) * 0x1.0p-53 * 20.0 - 10.0);
}

static void test_defaults_and_args(void)
{
    tlm_sampler_params d = tlm_sampler_default_params();
    CHECK(d.temperature == 1.0f && d.top_k == 0 && d.top_p == 1.0f,
          "defaults: temperature 1, top_k 0 (off), top_p 1 (off)");

    struct {
        float t;
        int32_t k;
        float p;
        int32_t n;
        const char *what;
    } bad[] = {
        {-0.5f, 0, 1.0f, 10, "temperature < 0"},
        {NAN, 0, 1.0f, 10, "temperature NaN"},
        {INFINITY, 0, 1.0f, 10, "temperature inf"},
        {1.0f, -1, 1.0f, 10, "top_k < 0"},
        {1.0f, 0, 0.0f, 10, "top_p 0"},
        {1.0f, 0, -0.1f, 10, "top_p < 0"},
        {1.0f, 0, 1.5f, 10, "top_p > 1"},
        {1.0f, 0, NAN, 10, "top_p NaN"},
        {1.0f, 0, 1.0f, 0, "n_vocab 0"},
        {1.0f, 0, 1.0f, -3, "n_vocab < 0"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tlm_sampler_params p = d;
        p.temperature = bad[i].t;
        p.top_k = bad[i].k;
        p.top_p = bad[i].p;
        tlm_sampler *s = (tlm_sampler *)&s; /* must come back NULL */
        tlm_error err = {0};
        tlm_status st = tlm_sampler_create(&p, bad[i].n, &s, &err);
        CHECK(st == TLM_ERR_ARG && s == NULL && err.status == TLM_ERR_ARG && err.message[0],
              "%s: TLM_ERR_ARG with a message (got %d: %s)", bad[i].what, (int)st, err.message);
    }
    tlm_sampler *s = NULL;
    CHECK(tlm_sampler_create(NULL, 10, &s, NULL) == TLM_ERR_ARG, "NULL params");
    CHECK(tlm_sampler_create(&d, 10, NULL, NULL) == TLM_ERR_ARG, "NULL out");
    d.top_k = 1000; /* above n_vocab: means all */
    CHECK(tlm_sampler_create(&d, 10, &s, NULL) == TLM_OK && s, "top_k > n_vocab is accepted");
    float logits[10] = {0};
    CHECK(tlm_sampler_sample(s, NULL) == -1 && tlm_sampler_sample(NULL, logits) == -1,
          "NULL sampler or logits give -1");
    tlm_sampler_free(s);
    tlm_sampler_free(NULL);
}

static void test_greedy(void)
{
    float logits[16];
    for (int i = 0; i < 16; i++)
        logits[i] = (float)(i % 5) - 2.0f;
    logits[11] = 7.5f;
    tlm_sampler *s = make(0.0f, 0, 1.0f, 1, 16);
    CHECK(s && tlm_sampler_sample(s, logits) == 11, "greedy: argmax 11");
    logits[4] = 7.5f; /* tie with 11: lowest id wins */
    CHECK(s && tlm_sampler_sample(s, logits) == 4, "greedy: tie goes to the lowest id");
    logits[2] = NAN;
    logits[0] = NAN;
    CHECK(s && tlm_sampler_sample(s, logits) == 4, "greedy: NaN logits never win");
    float all_neg_inf[3] = {-INFINITY, -INFINITY, -INFINITY};
    tlm_sampler_free(s);
    s = make(0.0f, 0, 1.0f, 1, 3);
    CHECK(s && tlm_sampler_sample(s, all_neg_inf) == 0, "greedy: all -inf gives id 0");
    tlm_sampler_free(s);

    /* top_k = 1 at any temperature is greedy, on random logits with random ties. */
    int bad = 0;
    tlm_sampler *k1 = make(1.3f, 1, 1.0f, 99, 64);
    tlm_sampler *g = make(0.0f, 0, 1.0f, 0, 64);
    for (int t = 0; t < 500 && k1 && g; t++) {
        float l[64];
        for (int i = 0; i < 64; i++)
            l[i] = (float)(int)rand_logit(); /* integers: ties */
        if (tlm_sampler_sample(k1, l) != tlm_sampler_sample(g, l)) bad++;
    }
    CHECK(k1 && g && bad == 0, "top_k 1 equals greedy on 500 random logit vectors (%d differ)",
          bad);
    tlm_sampler_free(k1);
    tlm_sampler_free(g);
    /* top_p small enough keeps only the most likely id: greedy too. */
    tlm_sampler *p1 = make(0.8f, 0, 1e-6f, 5, 64);
    g = make(0.0f, 0, 1.0f, 0, 64);
    bad = 0;
    for (int t = 0; t < 500 && p1 && g; t++) {
        float l[64];
        for (int i = 0; i < 64; i++)
            l[i] = rand_logit();
        if (tlm_sampler_sample(p1, l) != tlm_sampler_sample(g, l)) bad++;
    }
    CHECK(p1 && g && bad == 0, "top_p 1e-6 equals greedy (%d differ)", bad);
    tlm_sampler_free(p1);
    tlm_sampler_free(g);
}

enum { DRAWS = 100000 };

static void test_distribution(void)
{
    /* p = 0.5, 0.3, 0.2 as logits (plus a constant: softmax ignores it). */
    float logits[3] = {logf(0.5f) + 3.0f, logf(0.3f) + 3.0f, logf(0.2f) + 3.0f};
    int c[4] = {0};
    tlm_sampler *s = make(1.0f, 0, 1.0f, 42, 3);
    int bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    printf("  T=1:        %.4f %.4f %.4f (want 0.5 0.3 0.2)\n", (double)c[0] / DRAWS,
           (double)c[1] / DRAWS, (double)c[2] / DRAWS);
    CHECK(bad == 0 && near(c[0], DRAWS, 0.5, 0.01) && near(c[1], DRAWS, 0.3, 0.01) &&
              near(c[2], DRAWS, 0.2, 0.01),
          "T=1: frequencies within 1%% of 0.5/0.3/0.2");
    tlm_sampler_free(s);

    /* T = 2 flattens to p^(1/2) normalised: 0.4155 0.3218 0.2627. */
    double r0 = sqrt(0.5), r1 = sqrt(0.3), r2 = sqrt(0.2), sum = r0 + r1 + r2;
    s = make(2.0f, 0, 1.0f, 7, 3);
    bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && near(c[0], DRAWS, r0 / sum, 0.01) && near(c[1], DRAWS, r1 / sum, 0.01) &&
              near(c[2], DRAWS, r2 / sum, 0.01),
          "T=2: frequencies within 1%% of sqrt(p) normalised");
    tlm_sampler_free(s);

    /* top_p keeps the smallest most-likely-first prefix whose mass reaches top_p:
     * 0.6 -> {0, 1} (0.5 < 0.6 <= 0.8), renormalised to 0.625 / 0.375. */
    s = make(1.0f, 0, 0.6f, 3, 3);
    bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    printf("  top_p 0.6:  %.4f %.4f %.4f (want 0.625 0.375 0)\n", (double)c[0] / DRAWS,
           (double)c[1] / DRAWS, (double)c[2] / DRAWS);
    CHECK(bad == 0 && c[2] == 0, "top_p 0.6: never id 2 (%d draws)", c[2]);
    CHECK(near(c[0], DRAWS, 0.625, 0.01) && near(c[1], DRAWS, 0.375, 0.01),
          "top_p 0.6: ids 0 and 1 at 0.625 / 0.375");
    tlm_sampler_free(s);

    s = make(1.0f, 0, 0.45f, 3, 3);
    bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && c[0] == DRAWS, "top_p 0.45: only id 0");
    tlm_sampler_free(s);

    s = make(1.0f, 0, 0.85f, 3, 3);
    bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && near(c[0], DRAWS, 0.5, 0.01) && near(c[2], DRAWS, 0.2, 0.01),
          "top_p 0.85: all three ids (0.8 < 0.85)");
    tlm_sampler_free(s);

    /* top_k 2 -> {0, 1}, renormalised. */
    s = make(1.0f, 2, 1.0f, 11, 3);
    bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && c[2] == 0 && near(c[0], DRAWS, 0.625, 0.01),
          "top_k 2: ids 0 and 1 at 0.625 / 0.375");
    tlm_sampler_free(s);

    /* top_k first, then top_p on the renormalised rest: k=2 gives 0.625/0.375, and
     * top_p 0.6 then keeps only id 0 (0.625 >= 0.6). */
    s = make(1.0f, 2, 0.6f, 11, 3);
    bad = s ? draw(s, logits, 3, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && c[0] == DRAWS, "top_k 2 then top_p 0.6: only id 0");
    tlm_sampler_free(s);

    /* NaN logits get no probability. */
    float with_nan[4] = {logits[0], NAN, logits[1], logits[2]};
    s = make(1.0f, 0, 1.0f, 5, 4);
    bad = s ? draw(s, with_nan, 4, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && c[1] == 0 && near(c[0], DRAWS, 0.5, 0.01), "NaN logit is never drawn");
    tlm_sampler_free(s);

    /* A +inf logit takes everything; ties split evenly. */
    float inf2[4] = {0.0f, INFINITY, 1.0f, INFINITY};
    s = make(1.0f, 0, 1.0f, 5, 4);
    bad = s ? draw(s, inf2, 4, DRAWS, c) : DRAWS;
    CHECK(bad == 0 && c[0] + c[2] == 0 && near(c[1], DRAWS, 0.5, 0.01),
          "two +inf logits share the draws");
    tlm_sampler_free(s);
}

/* The top_p pre-filter must not change which ids can come out: compare with the nucleus
 * worked out here by sorting everything. */
static void test_nucleus_large(void)
{
    enum { N = 5000 };
    static float logits[N];
    static double p[N];
    static int counts[N];
    for (int i = 0; i < N; i++)
        logits[i] = rand_logit() * 0.5f;
    logits[17] = logits[18]; /* a tie */
    double max = -INFINITY, sum = 0;
    for (int i = 0; i < N; i++)
        max = fmax(max, logits[i]);
    for (int i = 0; i < N; i++)
        sum += p[i] = exp((logits[i] - max) / 0.9);
    /* the nucleus by repeated max (ties: lower id, as the sampler orders them) */
    float top_p = 0.7f;
    static bool in[N];
    memset(in, 0, sizeof in);
    double acc = 0;
    int kept = 0;
    while (acc < top_p * sum) {
        int best = -1;
        for (int i = 0; i < N; i++)
            if (!in[i] && (best < 0 || logits[i] > logits[best])) best = i;
        in[best] = true;
        acc += p[best];
        kept++;
    }
    tlm_sampler *s = make(0.9f, 0, top_p, 2024, N);
    int bad = s ? draw(s, logits, N, 20000, counts) : 20000;
    int outside = 0, seen = 0;
    for (int i = 0; i < N; i++) {
        if (counts[i] && !in[i]) outside++;
        if (counts[i]) seen++;
    }
    printf("  nucleus of %d ids at top_p %.1f; %d distinct ids drawn\n", kept, (double)top_p, seen);
    CHECK(bad == 0 && outside == 0, "top_p over %d ids: draws stay in the nucleus (%d outside)", N,
          outside);
    CHECK(seen > kept / 2, "top_p over %d ids: the nucleus is really sampled (%d of %d seen)", N,
          seen, kept);
    tlm_sampler_free(s);

    /* Tiny top_p on a flat distribution: the pre-filter keeps nothing, all are candidates. */
    static float flat[N];
    for (int i = 0; i < N; i++)
        flat[i] = 0.0f;
    s = make(1.0f, 0, 0.0009f, 1, N);
    bad = s ? draw(s, flat, N, 1000, counts) : 1000;
    int distinct = 0, over = 0;
    for (int i = 0; i < N; i++) {
        if (counts[i]) distinct++;
        if (counts[i] && i >= 5) over++;
    }
    /* 0.0009 of 5000 equal ids is 4.5: the first 5 (ties go to the lowest ids). */
    CHECK(bad == 0 && over == 0 && distinct == 5, "flat top_p 0.0009: ids 0..4 only (%d distinct)",
          distinct);
    tlm_sampler_free(s);
}

static void test_seed(void)
{
    float logits[50];
    for (int i = 0; i < 50; i++)
        logits[i] = rand_logit() * 0.3f;
    tlm_sampler *a = make(1.0f, 20, 0.9f, 777, 50), *b = make(1.0f, 20, 0.9f, 777, 50);
    tlm_sampler *c = make(1.0f, 20, 0.9f, 778, 50);
    int same = 0, diff = 0;
    for (int i = 0; i < 1000 && a && b && c; i++) {
        int32_t x = tlm_sampler_sample(a, logits), y = tlm_sampler_sample(b, logits);
        int32_t z = tlm_sampler_sample(c, logits);
        if (x == y) same++;
        if (x != z) diff++;
    }
    CHECK(same == 1000, "same seed, same sequence (%d of 1000)", same);
    CHECK(diff > 100, "another seed, another sequence (%d of 1000 differ)", diff);
    tlm_sampler_free(a);
    tlm_sampler_free(b);
    tlm_sampler_free(c);
    /* Seed 0 is a valid seed, not a degenerate stream. */
    tlm_sampler *z = make(1.0f, 0, 1.0f, 0, 50);
    int counts[50];
    int bad = z ? draw(z, logits, 50, 10000, counts) : 1;
    int distinct = 0;
    for (int i = 0; i < 50; i++)
        distinct += counts[i] > 0;
    CHECK(bad == 0 && distinct > 10, "seed 0 draws many ids (%d distinct)", distinct);
    tlm_sampler_free(z);
}

/* ---- sampler extras: every expected distribution below is worked out by hand from the
 * definitions in tinylm.h (the changed logits are written out, then softmaxed here). ---- */

/* A sampler from p, with ids accepted into its history. */
static tlm_sampler *make_p(const tlm_sampler_params *p, int32_t n_vocab, const int32_t *acc,
                           int n_acc)
{
    tlm_sampler *s = NULL;
    tlm_error err = {0};
    if (tlm_sampler_create(p, n_vocab, &s, &err) != TLM_OK) {
        printf("sampler_create failed: %s\n", err.message);
        return NULL;
    }
    for (int i = 0; i < n_acc; i++)
        tlm_sampler_accept(s, acc[i]);
    return s;
}

/* softmax(l / t) over n hand-derived logits; ids with keep[i] false get 0 (keep NULL: all). */
static void softmax_ref(const double *l, int n, double t, const bool *keep, double *out)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += out[i] = (keep && !keep[i]) ? 0.0 : exp(l[i] / t);
    for (int i = 0; i < n; i++)
        out[i] /= sum;
}

/* tlm_sampler_probs of s on logits against want[0..n), each within 1e-5. */
static bool probs_are(tlm_sampler *s, const float *logits, const double *want, int n)
{
    float got[64];
    if (!s || tlm_sampler_probs(s, logits, got) != TLM_OK) return false;
    bool ok = true;
    for (int i = 0; i < n; i++)
        if (fabs((double)got[i] - want[i]) > 1e-5) ok = false;
    if (!ok) {
        printf("  got ");
        for (int i = 0; i < n; i++)
            printf(" %.6f", (double)got[i]);
        printf("\n  want");
        for (int i = 0; i < n; i++)
            printf(" %.6f", want[i]);
        printf("\n");
    }
    return ok;
}

/* Draw frequencies of s on logits against want[0..n), each within tol. */
static bool draws_are(tlm_sampler *s, const float *logits, const double *want, int n, double tol)
{
    int counts[64];
    if (!s || draw(s, logits, n, DRAWS, counts) != 0) return false;
    bool ok = true;
    for (int i = 0; i < n; i++)
        if (!near(counts[i], DRAWS, want[i], tol) || (want[i] == 0.0 && counts[i] != 0)) ok = false;
    return ok;
}

static const float L4[4] = {2.0f, 1.0f, 0.0f, -1.0f}; /* the logits most tests start from */

static void test_min_p(void)
{
    /* p = 0.5 0.3 0.15 0.05 (logits ln p + 1). min_p 0.35: floor 0.35 * 0.5 = 0.175 keeps
     * ids 0 and 1 -> 0.5 / 0.8 = 0.625, 0.3 / 0.8 = 0.375. */
    float l[4] = {logf(0.5f) + 1, logf(0.3f) + 1, logf(0.15f) + 1, logf(0.05f) + 1};
    tlm_sampler_params p = tlm_sampler_default_params();
    p.min_p = 0.35f;
    p.seed = 3;
    tlm_sampler *s = make_p(&p, 4, NULL, 0);
    double want[4] = {0.625, 0.375, 0, 0};
    CHECK(probs_are(s, l, want, 4), "min_p 0.35: probs 0.625 0.375 0 0");
    CHECK(draws_are(s, l, want, 4, 0.01), "min_p 0.35: draws 0.625 0.375, never 2 or 3");
    tlm_sampler_free(s);

    /* min_p 0.25: floor 0.125 keeps 0.5 0.3 0.15 (sum 0.95): 0.526316 0.315789 0.157895 */
    p.min_p = 0.25f;
    s = make_p(&p, 4, NULL, 0);
    double want2[4] = {0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0};
    CHECK(probs_are(s, l, want2, 4), "min_p 0.25: three ids, renormalised over 0.95");
    tlm_sampler_free(s);

    /* After temperature: T = 2 gives p ~ sqrt(p) = .7071 .5477 .3873 .2236; min_p 0.5 has
     * floor .3536 and keeps three: .7071 .5477 .3873 / 1.6421 = .4306 .3335 .2359. At T = 1
     * the same min_p would keep ids 0 and 1 only. */
    p.min_p = 0.5f;
    p.temperature = 2.0f;
    s = make_p(&p, 4, NULL, 0);
    double r[4] = {sqrt(0.5), sqrt(0.3), sqrt(0.15), 0}, rs = r[0] + r[1] + r[2];
    double want3[4] = {r[0] / rs, r[1] / rs, r[2] / rs, 0};
    CHECK(probs_are(s, l, want3, 4), "min_p 0.5 at T=2: .4306 .3335 .2359 0");
    tlm_sampler_free(s);

    /* min_p 1 keeps only the most likely id (and ids tied with it). */
    p.min_p = 1.0f;
    p.temperature = 1.0f;
    s = make_p(&p, 4, NULL, 0);
    double want4[4] = {1, 0, 0, 0};
    CHECK(probs_are(s, l, want4, 4), "min_p 1: only the most likely id");
    float tie[4] = {1.0f, 3.0f, 3.0f, 0.0f};
    double want5[4] = {0, 0.5, 0.5, 0};
    CHECK(probs_are(s, tie, want5, 4), "min_p 1 with a tie: both tied ids at 0.5");
    tlm_sampler_free(s);
}

static void test_repeat_penalty(void)
{
    /* logits {2, 1, 0, -1}, repeat penalty 2 on ids 0 and 3: 2 / 2 = 1 (positive: divided),
     * -1 * 2 = -2 (negative: multiplied) -> {1, 1, 0, -2}: e^1 e^1 e^0 e^-2 / 6.571897 =
     * 0.413622 0.413622 0.152163 0.020593. */
    tlm_sampler_params p = tlm_sampler_default_params();
    p.repeat_penalty = 2.0f;
    p.seed = 8;
    int32_t acc[] = {0, 3};
    tlm_sampler *s = make_p(&p, 4, acc, 2);
    double want[4], l[4] = {1, 1, 0, -2};
    softmax_ref(l, 4, 1.0, NULL, want);
    CHECK(fabs(want[0] - 0.413622) < 1e-6 && fabs(want[3] - 0.020593) < 1e-6,
          "hand arithmetic: %.6f %.6f", want[0], want[3]);
    CHECK(probs_are(s, L4, want, 4), "repeat penalty 2 on ids 0, 3: {1, 1, 0, -2}");
    CHECK(draws_are(s, L4, want, 4, 0.01), "repeat penalty 2: draw frequencies");
    tlm_sampler_free(s);

    /* Seen twice is the same as once: the repetition penalty does not count. */
    int32_t acc2[] = {0, 3, 0, 3, 0};
    s = make_p(&p, 4, acc2, 5);
    CHECK(probs_are(s, L4, want, 4), "repeat penalty: ids seen 3 times penalised once");
    tlm_sampler_free(s);

    /* Greedy reads the penalised logits: penalty 3 on id 0 gives 2/3 < 1, so id 1 wins. */
    p.temperature = 0.0f;
    p.repeat_penalty = 3.0f;
    s = make_p(&p, 4, acc, 1);
    CHECK(s && tlm_sampler_sample(s, L4) == 1, "greedy after repeat penalty 3 on id 0: id 1");
    tlm_sampler_free(s);

    /* A penalty below 1 favours seen ids: 0.5 on id 3 gives -1 * 0.5 = -0.5, on id 2 gives
     * 0 * 0.5 = 0 (zero stays zero) -> {2, 1, 0, -0.5}. */
    p.temperature = 1.0f;
    p.repeat_penalty = 0.5f;
    int32_t acc3[] = {3, 2};
    s = make_p(&p, 4, acc3, 2);
    double l3[4] = {2, 1, 0, -0.5}, want3[4];
    softmax_ref(l3, 4, 1.0, NULL, want3);
    CHECK(probs_are(s, L4, want3, 4), "repeat penalty 0.5 on ids 3, 2: {2, 1, 0, -0.5}");
    tlm_sampler_free(s);
}

static void test_presence_frequency(void)
{
    int32_t acc[] = {0, 0, 2}; /* id 0 seen twice, id 2 once */
    tlm_sampler_params p = tlm_sampler_default_params();

    /* presence 0.5: once per seen id whatever its count -> {1.5, 1, -0.5, -1} */
    p.presence_penalty = 0.5f;
    tlm_sampler *s = make_p(&p, 4, acc, 3);
    double l1[4] = {1.5, 1, -0.5, -1}, w1[4];
    softmax_ref(l1, 4, 1.0, NULL, w1);
    CHECK(probs_are(s, L4, w1, 4), "presence 0.5 on ids 0 (x2), 2: {1.5, 1, -0.5, -1}");
    tlm_sampler_free(s);

    /* frequency 0.5: times the count -> id 0: 2 - 2 * 0.5 = 1, id 2: 0 - 0.5 -> {1, 1, -0.5, -1} */
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.5f;
    s = make_p(&p, 4, acc, 3);
    double l2[4] = {1, 1, -0.5, -1}, w2[4];
    softmax_ref(l2, 4, 1.0, NULL, w2);
    CHECK(probs_are(s, L4, w2, 4), "frequency 0.5, counts 2 and 1: {1, 1, -0.5, -1}");
    tlm_sampler_free(s);

    /* both: id 0: 2 - 0.5 - 1 = 0.5, id 2: 0 - 0.5 - 0.5 = -1 -> {0.5, 1, -1, -1} */
    p.presence_penalty = 0.5f;
    s = make_p(&p, 4, acc, 3);
    double l3[4] = {0.5, 1, -1, -1}, w3[4];
    softmax_ref(l3, 4, 1.0, NULL, w3);
    CHECK(probs_are(s, L4, w3, 4), "presence 0.5 + frequency 0.5: {0.5, 1, -1, -1}");
    tlm_sampler_free(s);

    /* negative values encourage: presence -2 on id 3 -> -1 + 2 = 1 -> {2, 1, 0, 1} */
    p.presence_penalty = -2.0f;
    p.frequency_penalty = 0.0f;
    int32_t acc4[] = {3};
    s = make_p(&p, 4, acc4, 1);
    double l4[4] = {2, 1, 0, 1}, w4[4];
    softmax_ref(l4, 4, 1.0, NULL, w4);
    CHECK(probs_are(s, L4, w4, 4), "presence -2 on id 3: {2, 1, 0, 1}");
    tlm_sampler_free(s);

    /* repeat then presence/frequency: repeat 2, presence 0.25, frequency 0.25 on id 0 seen
     * twice: 2 / 2 - 0.25 - 0.5 = 0.25; id 2 once: 0 * 2 - 0.25 - 0.25 = -0.5. */
    p.repeat_penalty = 2.0f;
    p.presence_penalty = 0.25f;
    p.frequency_penalty = 0.25f;
    s = make_p(&p, 4, acc, 3);
    double l5[4] = {0.25, 1, -0.5, -1}, w5[4];
    softmax_ref(l5, 4, 1.0, NULL, w5);
    CHECK(probs_are(s, L4, w5, 4), "repeat 2 then presence/frequency 0.25: {0.25, 1, -0.5, -1}");
    tlm_sampler_free(s);
}

static void test_window(void)
{
    tlm_sampler_params p = tlm_sampler_default_params();
    p.repeat_penalty = 2.0f;
    int32_t acc[] = {0, 3, 1};

    /* window 2 after 0, 3, 1: id 0 fell out -> {2, 0.5, 0, -2} */
    p.repeat_last_n = 2;
    tlm_sampler *s = make_p(&p, 4, acc, 3);
    double l1[4] = {2, 0.5, 0, -2}, w1[4];
    softmax_ref(l1, 4, 1.0, NULL, w1);
    CHECK(probs_are(s, L4, w1, 4), "repeat_last_n 2: id 0 out of the window, {2, .5, 0, -2}");
    tlm_sampler_free(s);

    /* -1: all three -> {1, 0.5, 0, -2} */
    p.repeat_last_n = -1;
    s = make_p(&p, 4, acc, 3);
    double l2[4] = {1, 0.5, 0, -2}, w2[4];
    softmax_ref(l2, 4, 1.0, NULL, w2);
    CHECK(probs_are(s, L4, w2, 4), "repeat_last_n -1: every id seen, {1, .5, 0, -2}");
    tlm_sampler_free(s);

    /* 0: none -> the plain softmax of {2, 1, 0, -1} */
    p.repeat_last_n = 0;
    s = make_p(&p, 4, acc, 3);
    double l3[4] = {2, 1, 0, -1}, w3[4];
    softmax_ref(l3, 4, 1.0, NULL, w3);
    CHECK(probs_are(s, L4, w3, 4), "repeat_last_n 0: no penalty");
    tlm_sampler_free(s);

    /* The ring wraps and counts go down as ids leave: window 3 after 0 1 2 3 0 0 holds
     * {3, 0, 0}; frequency 1 -> id 0: 2 - 2 = 0, id 3: -1 - 1 = -2, ids 1, 2 untouched. */
    p.repeat_penalty = 1.0f;
    p.frequency_penalty = 1.0f;
    p.repeat_last_n = 3;
    int32_t acc4[] = {0, 1, 2, 3, 0, 0};
    s = make_p(&p, 4, acc4, 6);
    double l4[4] = {0, 1, 0, -2}, w4[4];
    softmax_ref(l4, 4, 1.0, NULL, w4);
    CHECK(probs_are(s, L4, w4, 4), "window 3 over 0 1 2 3 0 0: counts {2, 0, 0, 1}");
    /* three more 1s push everything else out: {2, 1 - 3, 0, -1} */
    for (int i = 0; i < 3; i++)
        tlm_sampler_accept(s, 1);
    double l5[4] = {2, -2, 0, -1}, w5[4];
    softmax_ref(l5, 4, 1.0, NULL, w5);
    CHECK(probs_are(s, L4, w5, 4), "window 3 after 1 1 1: only id 1, count 3");
    /* ids outside the vocabulary are ignored, not recorded */
    tlm_sampler_accept(s, -1);
    tlm_sampler_accept(s, 4);
    tlm_sampler_accept(s, 1 << 30);
    CHECK(probs_are(s, L4, w5, 4), "accept ignores ids outside [0, n_vocab)");
    tlm_sampler_free(s);
}

static void test_logit_bias(void)
{
    tlm_sampler_params p = tlm_sampler_default_params();
    p.temperature = 0.0f;
    tlm_logit_bias ban[] = {{0, -100.0f}};
    p.logit_bias = ban;
    p.n_logit_bias = 1;
    tlm_sampler *s = make_p(&p, 4, NULL, 0);
    CHECK(s && tlm_sampler_sample(s, L4) == 1, "bias -100 on the argmax 0: greedy gives 1");
    tlm_sampler_free(s);

    /* +3.5 on id 3: -1 + 3.5 = 2.5 > 2 */
    tlm_logit_bias up[] = {{3, 3.5f}};
    p.logit_bias = up;
    s = make_p(&p, 4, NULL, 0);
    CHECK(s && tlm_sampler_sample(s, L4) == 3, "bias +3.5 on id 3: greedy gives 3");
    tlm_sampler_free(s);

    /* -100 at T = 1: e^-98 / (e^1 + e^0 + e^-1) < 1e-40: never drawn; the rest are the
     * softmax of {1, 0, -1}. */
    p.temperature = 1.0f;
    p.logit_bias = ban;
    p.seed = 77;
    s = make_p(&p, 4, NULL, 0);
    double l1[4] = {0, 1, 0, -1}, w1[4];
    bool keep[4] = {false, true, true, true};
    softmax_ref(l1, 4, 1.0, keep, w1);
    CHECK(probs_are(s, L4, w1, 4), "bias -100: id 0 has probability 0");
    CHECK(draws_are(s, L4, w1, 4, 0.01), "bias -100: id 0 never drawn in %d", DRAWS);
    tlm_sampler_free(s);

    /* Two entries for one id add up: 1 + 1 on id 2 -> {2, 1, 2, -1}; and the caller's array
     * is copied at create (changing it afterwards changes nothing). */
    tlm_logit_bias twice[] = {{2, 1.0f}, {1, -0.5f}, {2, 1.0f}};
    p.logit_bias = twice;
    p.n_logit_bias = 3;
    s = make_p(&p, 4, NULL, 0);
    twice[0].bias = 50.0f;
    twice[0].id = 3;
    double l2[4] = {2, 0.5, 2, -1}, w2[4];
    softmax_ref(l2, 4, 1.0, NULL, w2);
    CHECK(probs_are(s, L4, w2, 4), "biases summed per id, copied at create: {2, .5, 2, -1}");
    tlm_sampler_free(s);

    /* A NaN logit stays out after a bias and a penalty: {NaN, 1, 0, -1} with +5 and repeat
     * penalty 2 on id 0 is the softmax of {1, 0, -1} over ids 1..3, greedy or not. */
    tlm_logit_bias up0[] = {{0, 5.0f}};
    p.logit_bias = up0;
    p.n_logit_bias = 1;
    p.repeat_penalty = 2.0f;
    int32_t acc0[] = {0};
    s = make_p(&p, 4, acc0, 1);
    float with_nan[4] = {NAN, 1.0f, 0.0f, -1.0f};
    double l3[4] = {0, 1, 0, -1}, w3[4];
    bool keep3[4] = {false, true, true, true};
    softmax_ref(l3, 4, 1.0, keep3, w3);
    CHECK(probs_are(s, with_nan, w3, 4), "NaN logit with bias and penalty: probability 0");
    tlm_sampler_free(s);
    p.temperature = 0.0f;
    s = make_p(&p, 4, acc0, 1);
    CHECK(s && tlm_sampler_sample(s, with_nan) == 1, "NaN logit with bias: greedy gives 1");
    tlm_sampler_free(s);
}

static void test_chain_order(void)
{
    /* logits {2, 1, 0, -1}; bias +4 on id 3, repeat penalty 2 on id 3, T 0.5, top_k 3,
     * top_p 0.95, min_p 0.2.
     *   bias:      {2, 1, 0, 3}
     *   penalty:   3 / 2 = 1.5         -> {2, 1, 0, 1.5}   (penalty first would give
     *              -1 * 2 + 4 = 2; bias after temperature would give {4, 2, 0, 2 / 2 = 1})
     *   / T:       {4, 2, 0, 3}
     *   top_k 3:   drops id 2; softmax of {4, 2, 3}: .665241 .090031 .244728
     *   top_p .95: .665 + .245 = .910 < .95, so all three stay
     *   min_p .2:  floor .2 * .665 = .133 drops id 1 (.090)
     *   result:    e^4, e^3 renormalised: .731059 0 0 .268941 */
    tlm_sampler_params p = tlm_sampler_default_params();
    tlm_logit_bias b[] = {{3, 4.0f}};
    p.logit_bias = b;
    p.n_logit_bias = 1;
    p.repeat_penalty = 2.0f;
    p.temperature = 0.5f;
    p.top_k = 3;
    p.top_p = 0.95f;
    p.min_p = 0.2f;
    p.seed = 2;
    int32_t acc[] = {3};
    tlm_sampler *s = make_p(&p, 4, acc, 1);
    double want[4] = {0.731059, 0, 0, 0.268941};
    CHECK(probs_are(s, L4, want, 4), "bias, penalty, T, top_k, top_p, min_p: .7311 0 0 .2689");
    CHECK(draws_are(s, L4, want, 4, 0.01), "the chain's draw frequencies: .7311 0 0 .2689");
    tlm_sampler_free(s);

    /* top_p before min_p: top_p 0.7 on .665 .245 .090 keeps {0, 3} (.665 < .7), then
     * min_p 0.2 keeps id 3 (.245 / .665 = .368 >= .2): .7311 .2689 again. Had min_p gone
     * first, it would have dropped id 1 and renormalised to .731 .269, and top_p 0.7 would
     * then keep id 0 alone. */
    p.top_p = 0.7f;
    p.min_p = 0.2f;
    s = make_p(&p, 4, acc, 1);
    CHECK(probs_are(s, L4, want, 4), "top_p 0.7 then min_p 0.2: ids 0 and 3 survive");
    tlm_sampler_free(s);

    /* greedy with the whole chain: bias +4 then penalty gives id 3 1.5 < 2, so 0 wins;
     * without the penalty id 3 (3 > 2) would. */
    p.temperature = 0.0f;
    s = make_p(&p, 4, acc, 1);
    double g[4] = {1, 0, 0, 0};
    CHECK(s && tlm_sampler_sample(s, L4) == 0 && probs_are(s, L4, g, 4),
          "greedy after bias and penalty: id 0, probs 1 0 0 0");
    tlm_sampler_free(s);
    s = make_p(&p, 4, NULL, 0);
    CHECK(s && tlm_sampler_sample(s, L4) == 3, "greedy after bias, nothing accepted: id 3");
    tlm_sampler_free(s);
}

/* tlm_sampler_probs is the distribution sample() draws from, on a vector where every filter
 * and penalty is at work. */
static void test_probs_vs_draws(void)
{
    enum { N = 24, MANY = 400000 };
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = rand_logit() * 0.25f;
    tlm_logit_bias b[] = {{5, 1.5f}, {7, -100.0f}};
    tlm_sampler_params p = tlm_sampler_default_params();
    p.temperature = 0.8f;
    p.top_k = 16;
    p.top_p = 0.92f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.3f;
    p.presence_penalty = 0.2f;
    p.frequency_penalty = 0.1f;
    p.logit_bias = b;
    p.n_logit_bias = 2;
    p.seed = 31337;
    int32_t acc[] = {1, 2, 2, 5, 9, 9, 9};
    tlm_sampler *s = make_p(&p, N, acc, 7);
    float probs[N];
    static int counts[N];
    CHECK(s && tlm_sampler_probs(s, l, probs) == TLM_OK, "probs on %d ids", N);
    double sum = 0.0, worst = 0.0;
    int zero = 0, bad = s ? draw(s, l, N, MANY, counts) : MANY, zero_drawn = 0;
    for (int i = 0; i < N; i++) {
        sum += probs[i];
        if (probs[i] == 0.0f) zero++, zero_drawn += counts[i];
        worst = fmax(worst, fabs((double)counts[i] / MANY - probs[i]));
    }
    printf("  probs vs %d draws: %d of %d ids filtered, worst difference %.4f\n", MANY, zero, N,
           worst);
    CHECK(fabs(sum - 1.0) < 1e-5, "probs sum to 1 (%.7f)", sum);
    CHECK(zero >= 8 && zero < N - 2, "the filters removed some ids but not all (%d)", zero);
    CHECK(bad == 0 && zero_drawn == 0, "ids with probability 0 never drawn (%d)", zero_drawn);
    CHECK(worst < 0.004, "draw frequencies match probs (worst %.4f)", worst);
    tlm_sampler_free(s);

    /* probs draws nothing: a sampler asked for probs between draws gives the same ids */
    tlm_sampler *x = make_p(&p, N, acc, 7), *y = make_p(&p, N, acc, 7);
    int same = 0;
    for (int i = 0; i < 200 && x && y; i++) {
        tlm_sampler_probs(x, l, probs);
        same += tlm_sampler_sample(x, l) == tlm_sampler_sample(y, l);
    }
    CHECK(same == 200, "tlm_sampler_probs does not advance the random stream (%d of 200)", same);
    tlm_sampler_free(x);
    tlm_sampler_free(y);
}

static void test_reset(void)
{
    enum { N = 40, STEPS = 300 };
    float l[N];
    for (int i = 0; i < N; i++)
        l[i] = rand_logit() * 0.3f;
    tlm_sampler_params p = tlm_sampler_default_params();
    p.repeat_penalty = 1.5f;
    p.frequency_penalty = 0.3f;
    p.repeat_last_n = 16;
    p.seed = 4242;
    int32_t run1[STEPS], run2[STEPS], run3[STEPS];
    tlm_sampler *s = make_p(&p, N, NULL, 0), *f = make_p(&p, N, NULL, 0);
    for (int i = 0; i < STEPS && s; i++)
        tlm_sampler_accept(s, run1[i] = tlm_sampler_sample(s, l));
    int cont_same = 0; /* going on without reset: another stream and history */
    for (int i = 0; i < STEPS && s; i++) {
        int32_t id = tlm_sampler_sample(s, l);
        tlm_sampler_accept(s, id);
        cont_same += id == run1[i];
    }
    tlm_sampler_reset(s);
    for (int i = 0; i < STEPS && s; i++)
        tlm_sampler_accept(s, run2[i] = tlm_sampler_sample(s, l));
    for (int i = 0; i < STEPS && f; i++)
        tlm_sampler_accept(f, run3[i] = tlm_sampler_sample(f, l));
    CHECK(s && !memcmp(run1, run2, sizeof run1), "reset: the same %d ids again", STEPS);
    CHECK(f && !memcmp(run1, run3, sizeof run1), "a fresh sampler with the seed: the same ids");
    CHECK(cont_same < STEPS / 2, "without reset the ids differ (%d of %d equal)", cont_same, STEPS);
    /* the penalties really steer this run: the most likely id is not drawn every time */
    int distinct = 0;
    bool seen[N] = {false};
    for (int i = 0; i < STEPS; i++)
        if (!seen[run1[i]]) seen[run1[i]] = true, distinct++;
    CHECK(distinct > 5, "penalised run uses many ids (%d)", distinct);
    tlm_sampler_free(s);
    tlm_sampler_free(f);
    tlm_sampler_reset(NULL);
    tlm_sampler_accept(NULL, 1);
    CHECK(tlm_sampler_probs(NULL, l, (float[N]){0}) == TLM_ERR_ARG, "probs: NULL sampler");
}

static void test_extra_args(void)
{
    tlm_sampler_params d = tlm_sampler_default_params();
    CHECK(d.min_p == 0.0f && d.repeat_penalty == 1.0f && d.presence_penalty == 0.0f &&
              d.frequency_penalty == 0.0f && d.repeat_last_n == 64 && d.n_logit_bias == 0 &&
              d.logit_bias == NULL && d.seed == 0,
          "defaults: min_p 0, penalties off, repeat_last_n 64, no bias, seed 0");
    tlm_logit_bias ok_b[] = {{9, 1.0f}}, low[] = {{-1, 1.0f}}, high[] = {{10, 1.0f}};
    tlm_logit_bias nan_b[] = {{1, NAN}}, inf_b[] = {{1, INFINITY}}, ninf_b[] = {{1, -INFINITY}};
    struct {
        const char *field, *what;
        tlm_sampler_params p;
    } bad[] = {
        {"min_p", "min_p < 0", d},         {"min_p", "min_p > 1", d},
        {"min_p", "min_p NaN", d},         {"repeat_penalty", "repeat_penalty 0", d},
        {"repeat_penalty", "< 0", d},      {"repeat_penalty", "NaN", d},
        {"repeat_penalty", "inf", d},      {"presence_penalty", "> 2", d},
        {"presence_penalty", "< -2", d},   {"presence_penalty", "NaN", d},
        {"frequency_penalty", "> 2", d},   {"frequency_penalty", "< -2", d},
        {"frequency_penalty", "NaN", d},   {"repeat_last_n", "-2", d},
        {"n_logit_bias", "< 0", d},        {"n_logit_bias", "NULL array", d},
        {"logit_bias[0].id", "id -1", d},  {"logit_bias[1].id", "id n_vocab", d},
        {"logit_bias[0].bias", "NaN", d},  {"logit_bias[0].bias", "inf", d},
        {"logit_bias[0].bias", "-inf", d},
    };
    bad[0].p.min_p = -0.01f;
    bad[1].p.min_p = 1.01f;
    bad[2].p.min_p = NAN;
    bad[3].p.repeat_penalty = 0.0f;
    bad[4].p.repeat_penalty = -1.0f;
    bad[5].p.repeat_penalty = NAN;
    bad[6].p.repeat_penalty = INFINITY;
    bad[7].p.presence_penalty = 2.01f;
    bad[8].p.presence_penalty = -2.01f;
    bad[9].p.presence_penalty = NAN;
    bad[10].p.frequency_penalty = 2.5f;
    bad[11].p.frequency_penalty = -3.0f;
    bad[12].p.frequency_penalty = NAN;
    bad[13].p.repeat_last_n = -2;
    bad[14].p.n_logit_bias = -1;
    bad[15].p.n_logit_bias = 1;
    tlm_logit_bias two_high[] = {ok_b[0], high[0]};
    const tlm_logit_bias *arrays[] = {low, two_high, nan_b, inf_b, ninf_b};
    for (int i = 0; i < 5; i++) {
        bad[16 + i].p.logit_bias = arrays[i];
        bad[16 + i].p.n_logit_bias = i == 1 ? 2 : 1;
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        tlm_sampler *s = (tlm_sampler *)&s;
        tlm_error err = {0};
        tlm_status st = tlm_sampler_create(&bad[i].p, 10, &s, &err);
        CHECK(st == TLM_ERR_ARG && s == NULL && strstr(err.message, bad[i].field),
              "%s %s: TLM_ERR_ARG naming the field (got %d: %s)", bad[i].field, bad[i].what,
              (int)st, err.message);
    }
    /* the ends of each range are valid */
    tlm_sampler_params e = d;
    e.min_p = 1.0f;
    e.presence_penalty = -2.0f;
    e.frequency_penalty = 2.0f;
    e.repeat_last_n = -1;
    e.repeat_penalty = 0.01f;
    e.logit_bias = ok_b;
    e.n_logit_bias = 1;
    tlm_sampler *s = NULL;
    tlm_error err = {0};
    CHECK(tlm_sampler_create(&e, 10, &s, &err) == TLM_OK && s, "range ends accepted (%s)",
          err.message);
    tlm_sampler_free(s);
    e.n_logit_bias = 0;
    e.logit_bias = NULL;
    s = NULL;
    CHECK(tlm_sampler_create(&e, 10, &s, NULL) == TLM_OK && s, "no biases with a NULL array");
    tlm_sampler_free(s);
}

/* ---- stop strings ---- */

typedef struct out_text {
    char buf[4096];
    size_t len;
} out_text;

static tlm_stop_matcher *stops(const char *const *strs, int32_t n)
{
    tlm_stop_matcher *m = NULL;
    tlm_error err = {0};
    if (tlm_stop_create(strs, n, &m, &err) != TLM_OK) printf("stop_create: %s\n", err.message);
    return m;
}

/* Feeds each piece, appending what is emitted to o; returns the 1-based index of the piece on
 * which the matcher reported a stop, or 0. */
static int feed_all(tlm_stop_matcher *m, const char *const *pieces, int n, out_text *o)
{
    int stopped_at = 0;
    o->len = 0;
    for (int i = 0; i < n && m; i++) {
        const char *e;
        size_t ne;
        bool st = tlm_stop_feed(m, pieces[i], strlen(pieces[i]), &e, &ne);
        if (ne && o->len + ne < sizeof o->buf) memcpy(o->buf + o->len, e, ne), o->len += ne;
        if (st && !stopped_at) stopped_at = i + 1;
    }
    o->buf[o->len] = '\0';
    return stopped_at;
}

static void test_stop_strings(void)
{
    out_text o;
    const char *user[] = {"\nUser:"};
    tlm_stop_matcher *m = stops(user, 1);
    const char *two[] = {"Hello\nUs", "er: more"};
    CHECK(feed_all(m, two, 2, &o) == 2 && !strcmp(o.buf, "Hello"),
          "stop across 2 feeds: 'Hello' then stop (got '%s')", o.buf);
    /* after a stop: nothing more, flush gives nothing */
    const char *e;
    size_t ne;
    CHECK(m && tlm_stop_feed(m, "abc", 3, &e, &ne) && ne == 0, "after a stop: still stopped");
    tlm_stop_flush(m, &e, &ne);
    CHECK(ne == 0, "flush after a stop: nothing");
    /* reset: a new stream */
    tlm_stop_reset(m);
    const char *plain[] = {"abc", "\nU", "s", "e", "d it"};
    CHECK(feed_all(m, plain, 5, &o) == 0 && !strcmp(o.buf, "abc\nUsed it"),
          "after reset, a false start '\\nUse' is emitted once decided (got '%s')", o.buf);
    tlm_stop_free(m);

    const char *bcde[] = {"bcde"};
    m = stops(bcde, 1);
    const char *three[] = {"xab", "cd", "ef"};
    CHECK(feed_all(m, three, 3, &o) == 3 && !strcmp(o.buf, "xa"),
          "stop across 3 feeds: 'xa' (got '%s')", o.buf);
    /* what is held back, feed by feed */
    tlm_stop_reset(m);
    bool st = tlm_stop_feed(m, "xab", 3, &e, &ne);
    CHECK(!st && ne == 2 && !memcmp(e, "xa", 2), "'xab': 'xa' emitted, 'b' held");
    st = tlm_stop_feed(m, "c", 1, &e, &ne);
    CHECK(!st && ne == 0, "'c': 'bc' held");
    st = tlm_stop_feed(m, "x", 1, &e, &ne);
    CHECK(!st && ne == 3 && !memcmp(e, "bcx", 3), "'x': false start, 'bcx' emitted");
    tlm_stop_free(m);

    const char *end[] = {"END"};
    m = stops(end, 1);
    const char *fs[] = {"the EN", "ergy"};
    CHECK(feed_all(m, fs, 2, &o) == 0 && !strcmp(o.buf, "the ENergy"),
          "false-start prefix 'EN' emitted with 'ergy' (got '%s')", o.buf);
    tlm_stop_reset(m);
    const char *fl[] = {"abc EN"};
    CHECK(feed_all(m, fl, 1, &o) == 0 && !strcmp(o.buf, "abc "), "'abc EN': 'EN' held");
    tlm_stop_flush(m, &e, &ne);
    CHECK(ne == 2 && !memcmp(e, "EN", 2), "flush gives the held 'EN'");
    tlm_stop_flush(m, &e, &ne);
    CHECK(ne == 0, "a second flush gives nothing");
    tlm_stop_reset(m);
    const char *start[] = {"ENDING"};
    CHECK(feed_all(m, start, 1, &o) == 1 && o.len == 0, "stop at the very start: nothing");
    tlm_stop_reset(m);
    const char *start2[] = {"E", "N", "D!"};
    CHECK(feed_all(m, start2, 3, &o) == 3 && o.len == 0, "stop at the start, byte by byte");
    tlm_stop_reset(m);
    CHECK(m && !tlm_stop_feed(m, "", 0, &e, &ne) && ne == 0 && e, "empty feed: nothing");
    tlm_stop_free(m);

    /* overlapping candidates */
    const char *ov[] = {"ab", "abc", "bcd"};
    m = stops(ov, 3);
    const char *o1[] = {"zb", "c", "d"};
    CHECK(feed_all(m, o1, 3, &o) == 3 && !strcmp(o.buf, "z"), "'zbcd' stops on bcd: 'z' ('%s')",
          o.buf);
    tlm_stop_reset(m);
    const char *o2[] = {"xa", "bc"};
    CHECK(feed_all(m, o2, 2, &o) == 2 && !strcmp(o.buf, "x"), "'xabc': 'ab' first: 'x' ('%s')",
          o.buf);
    tlm_stop_reset(m);
    const char *o3[] = {"bcab"};
    CHECK(feed_all(m, o3, 1, &o) == 1 && !strcmp(o.buf, "bc"), "'bcab': 'bc' ('%s')", o.buf);
    tlm_stop_reset(m);
    const char *o4[] = {"bcbcbx"};
    CHECK(feed_all(m, o4, 1, &o) == 0 && !strcmp(o.buf, "bcbcbx"), "'bcbcbx': no stop ('%s')",
          o.buf);
    tlm_stop_free(m);

    /* the earliest occurrence wins, not the first to complete */
    const char *er[] = {"cd", "abcde"};
    m = stops(er, 2);
    const char *e1[] = {"xabcdef"};
    CHECK(feed_all(m, e1, 1, &o) == 1 && !strcmp(o.buf, "x"), "'cd' and 'abcde' in one feed: 'x'");
    tlm_stop_free(m);

    /* a string with a border: 'aab' after 'aaa' must keep 'aa' */
    const char *aab[] = {"aab"};
    m = stops(aab, 1);
    const char *a1[] = {"aaa", "b"};
    CHECK(feed_all(m, a1, 2, &o) == 2 && !strcmp(o.buf, "a"), "'aaa'+'b' on 'aab': 'a' ('%s')",
          o.buf);
    tlm_stop_free(m);

    /* UTF-8 split across feeds: 'é!' is C3 A9 21 */
    const char *eacute[] = {"\xC3\xA9!"};
    m = stops(eacute, 1);
    const char *u1[] = {"caf\xC3", "\xA9", "! no"};
    CHECK(feed_all(m, u1, 3, &o) == 3 && !strcmp(o.buf, "caf"), "'é!' split in bytes: 'caf'");
    tlm_stop_reset(m);
    const char *u2[] = {"caf\xC3", "\xA9s"};
    CHECK(feed_all(m, u2, 2, &o) == 0 && !strcmp(o.buf, "caf\xC3\xA9s"),
          "'é' not followed by '!': emitted whole");
    tlm_stop_free(m);

    /* no strings: everything passes */
    m = stops(NULL, 0);
    const char *any[] = {"any", "thing"};
    CHECK(m && feed_all(m, any, 2, &o) == 0 && !strcmp(o.buf, "anything"), "no stop strings");
    tlm_stop_free(m);
    tlm_stop_free(NULL);
}

/* Random text over a small alphabet, cut into random feeds, against a naive reference: after
 * each feed the output so far is the text so far minus its longest suffix that is a proper
 * prefix of a stop string; at the first feed after which the text contains a stop string,
 * the output is the text up to the earliest such occurrence. */
static void test_stop_random(void)
{
    const char *strs[] = {"ab", "abc", "bcd", "cac", "dddd", "abab"};
    int n_strs = 6, bad = 0, n_stopped = 0;
    tlm_stop_matcher *m = stops(strs, n_strs);
    uint64_t r = 99;
    for (int trial = 0; trial < 3000 && m; trial++) {
        char text[64];
        int len = 1 + (int)(trial % 40);
        for (int i = 0; i < len; i++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            text[i] = "abcd"[(r >> 33) % (trial % 3 == 0 ? 4 : 3) + (trial % 3 == 2)];
        }
        text[len] = '\0';
        tlm_stop_reset(m);
        char out[128];
        size_t n_out = 0;
        int pos = 0;
        bool stopped = false;
        while (pos < len && !stopped) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            int piece = 1 + (int)((r >> 40) % 5);
            if (piece > len - pos) piece = len - pos;
            const char *e;
            size_t ne;
            stopped = tlm_stop_feed(m, text + pos, (size_t)piece, &e, &ne);
            memcpy(out + n_out, e, ne);
            n_out += ne;
            pos += piece;
            /* the reference on text[0 .. pos) */
            int first = -1;
            for (int s = 0; s < n_strs; s++) {
                const char *hit = NULL;
                for (int at = 0; at + (int)strlen(strs[s]) <= pos && !hit; at++)
                    if (!strncmp(text + at, strs[s], strlen(strs[s]))) hit = text + at;
                if (hit && (first < 0 || hit - text < first)) first = (int)(hit - text);
            }
            int want_len;
            if (first >= 0) {
                want_len = first;
            } else {
                int hold = 0;
                for (int k = 1; k <= pos; k++)
                    for (int s = 0; s < n_strs; s++)
                        if ((size_t)k < strlen(strs[s]) &&
                            !strncmp(text + pos - k, strs[s], (size_t)k))
                            hold = k;
                want_len = pos - hold;
            }
            if (stopped != (first >= 0) || (int)n_out != want_len || memcmp(out, text, n_out)) {
                if (bad++ < 3)
                    printf("  '%s' after %d bytes: got %d bytes '%.*s' stop %d, want %d stop %d\n",
                           text, pos, (int)n_out, (int)n_out, out, stopped, want_len, first >= 0);
                break;
            }
        }
        if (!stopped) {
            const char *e;
            size_t ne;
            tlm_stop_flush(m, &e, &ne);
            memcpy(out + n_out, e, ne);
            n_out += ne;
            if ((int)n_out != len || memcmp(out, text, n_out)) bad++;
        }
        n_stopped += stopped;
    }
    printf("  stop matcher: 3000 random streams, %d stopped\n", n_stopped);
    CHECK(m && bad == 0 && n_stopped > 500 && n_stopped < 2900,
          "random streams agree with the naive reference (%d differ)", bad);
    tlm_stop_free(m);
}

static void test_stop_limits(void)
{
    static char longest[1026];
    memset(longest, 'x', 1025);
    longest[1025] = '\0';
    const char *too_long[] = {"ok", longest};
    tlm_stop_matcher *m = (tlm_stop_matcher *)&m;
    tlm_error err = {0};
    CHECK(tlm_stop_create(too_long, 2, &m, &err) == TLM_ERR_ARG && !m && err.message[0],
          "a 1025-byte stop string: TLM_ERR_ARG (%s)", err.message);
    longest[1024] = '\0';
    CHECK(tlm_stop_create(too_long, 2, &m, NULL) == TLM_OK && m, "1024 bytes is allowed");
    /* a 1024-byte stop string split across many feeds, after a long false start */
    out_text o;
    const char *pieces[40];
    static char text[2200];
    memset(text, 'x', 1023);
    text[1023] = 'y'; /* 1023 x's then y: a false start of the longest possible prefix */
    memcpy(text + 1024, longest, 1024);
    memcpy(text + 2048, "tail", 5);
    for (int i = 0; i < 40; i++)
        pieces[i] = NULL;
    static char chunks[40][64];
    int n = 0;
    for (int at = 0; at < 2052; at += 60, n++) {
        snprintf(chunks[n], sizeof chunks[n], "%.60s", text + at);
        pieces[n] = chunks[n];
    }
    CHECK(feed_all(m, pieces, n, &o) > 0 && o.len == 1024 && !memcmp(o.buf, text, 1024),
          "1024-byte stop after a 1023-byte false start: the false start is emitted (%d bytes)",
          (int)o.len);
    tlm_stop_free(m);

    const char *empty[] = {"a", ""};
    const char *null1[] = {"a", NULL};
    CHECK(tlm_stop_create(empty, 2, &m, NULL) == TLM_ERR_ARG && !m, "empty stop string");
    CHECK(tlm_stop_create(null1, 2, &m, NULL) == TLM_ERR_ARG && !m, "NULL stop string");
    CHECK(tlm_stop_create(empty, -1, &m, NULL) == TLM_ERR_ARG, "n < 0");
    CHECK(tlm_stop_create(NULL, 1, &m, NULL) == TLM_ERR_ARG, "NULL array with n 1");
    CHECK(tlm_stop_create(empty, 1, NULL, NULL) == TLM_ERR_ARG, "NULL out");
    const char *many[65];
    for (int i = 0; i < 65; i++)
        many[i] = "s";
    CHECK(tlm_stop_create(many, 65, &m, NULL) == TLM_ERR_ARG && !m, "65 stop strings");
    CHECK(tlm_stop_create(many, 64, &m, NULL) == TLM_OK && m, "64 stop strings");
    tlm_stop_free(m);
}

int main(void)
{
    test_defaults_and_args();
    test_greedy();
    test_distribution();
    test_nucleus_large();
    test_seed();
    test_min_p();
    test_repeat_penalty();
    test_presence_frequency();
    test_window();
    test_logit_bias();
    test_chain_order();
    test_probs_vs_draws();
    test_reset();
    test_extra_args();
    test_stop_strings();
    test_stop_random();
    test_stop_limits();
    return finish("sampler");
}
