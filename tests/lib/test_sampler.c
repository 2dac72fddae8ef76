/* test_sampler.c - greedy, temperature, top-k and top-p sampling against hand-worked
 * distributions; reproducibility per seed; parameter validation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tinylm.h"

static int n_pass, n_fail;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (cond) {                                                                                \
            n_pass++;                                                                              \
        } else {                                                                                   \
            n_fail++;                                                                              \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                                            \
            printf(__VA_ARGS__);                                                                   \
            printf("\n");                                                                          \
        }                                                                                          \
    } while (0)

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

int main(void)
{
    test_defaults_and_args();
    test_greedy();
    test_distribution();
    test_nucleus_large();
    test_seed();
    printf("test_sampler: %d passed, %d failed\n", n_pass, n_fail);
    return n_fail != 0;
}
