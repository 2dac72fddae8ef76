/* sampler.c - next-token choice from logits. The chain (docs/sampling.md), in Hugging Face
 * transformers' order:
 *   1. logit biases are added, then repetition / presence / frequency penalties are applied
 *      to the ids accepted in the last repeat_last_n steps (sampler_penalty.c);
 *   2. temperature 0: the argmax of those logits;
 *   3. else softmax(logits / T); keep the top_k most likely ids (0: all); of those,
 *      renormalised, the smallest most-likely-first prefix whose probability reaches top_p;
 *      of those, the ids whose probability is at least min_p times the most likely one's;
 *   4. draw from what is left in proportion to probability (a seeded splitmix64 stream).
 * Ties in likelihood are ordered by lower id first, so results depend only on (logits,
 * params, accepted ids, seed, draw count). tlm_sampler_probs reports the distribution of
 * step 4 through the same code. All scratch is allocated at create: sampling never
 * allocates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grammar_sampler.h"
#include "sampler_penalty.h"

typedef struct cand {
    float logit;
    float p; /* exp((logit - max) / T), unnormalised */
    int32_t id;
} cand;

struct tlm_sampler {
    tlm_sampler_params params; /* logit_bias cleared: the biases live in pen */
    int32_t n_vocab;
    uint64_t rng;
    cand *cands;     /* [n_vocab] */
    float *modified; /* [n_vocab] the logits after biases and penalties */
    tlm_penalty pen;
    tlm_gsampler *grammar; /* NULL: unconstrained (grammar_mask.c) */
};

TLM_API tlm_sampler_params tlm_sampler_default_params(void)
{
    tlm_sampler_params p = {
        .temperature = 1.0f,
        .top_k = 0,
        .top_p = 1.0f,
        .min_p = 0.0f,
        .repeat_penalty = 1.0f,
        .presence_penalty = 0.0f,
        .frequency_penalty = 0.0f,
        .repeat_last_n = 64,
        .logit_bias = NULL,
        .n_logit_bias = 0,
        .seed = 0,
    };
    return p;
}

TLM_API tlm_status tlm_sampler_create(const tlm_sampler_params *params, int32_t n_vocab,
                                      tlm_sampler **out, tlm_error *err)
{
    if (out) *out = NULL;
    if (!params || !out)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_sampler_create: params and out must not be NULL");
    /* written so that NaN fails each test too */
    if (!(params->temperature >= 0.0f) || isinf(params->temperature))
        return tlm_fail(err, TLM_ERR_ARG, "sampler: temperature %g must be finite and >= 0",
                        (double)params->temperature);
    if (params->top_k < 0)
        return tlm_fail(err, TLM_ERR_ARG, "sampler: top_k %d must be >= 0 (0: off)",
                        (int)params->top_k);
    if (!(params->top_p > 0.0f && params->top_p <= 1.0f))
        return tlm_fail(err, TLM_ERR_ARG, "sampler: top_p %g must be in (0, 1] (1: off)",
                        (double)params->top_p);
    if (!(params->min_p >= 0.0f && params->min_p <= 1.0f))
        return tlm_fail(err, TLM_ERR_ARG, "sampler: min_p %g must be in [0, 1] (0: off)",
                        (double)params->min_p);
    if (n_vocab < 1)
        return tlm_fail(err, TLM_ERR_ARG, "sampler: n_vocab %d must be >= 1", (int)n_vocab);
    tlm_sampler *s = calloc(1, sizeof *s);
    if (!s) return tlm_fail(err, TLM_ERR_NO_MEMORY, "sampler: no memory");
    tlm_status st = tlm_penalty_init(&s->pen, params, n_vocab, err);
    if (st != TLM_OK) {
        free(s);
        return st;
    }
    s->cands = malloc((size_t)n_vocab * sizeof *s->cands);
    s->modified = malloc((size_t)n_vocab * sizeof *s->modified);
    if (!s->cands || !s->modified) {
        tlm_sampler_free(s);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "sampler: no memory for %d candidates",
                        (int)n_vocab);
    }
    s->params = *params;
    s->params.logit_bias = NULL; /* the caller's array need not outlive create */
    s->n_vocab = n_vocab;
    s->rng = params->seed;
    *out = s;
    return TLM_OK;
}

TLM_API void tlm_sampler_free(tlm_sampler *s)
{
    if (!s) return;
    tlm_penalty_free(&s->pen);
    tlm_gsampler_free(s->grammar);
    free(s->cands);
    free(s->modified);
    free(s);
}

TLM_API void tlm_sampler_accept(tlm_sampler *s, int32_t id)
{
    if (s) tlm_penalty_accept(&s->pen, id);
}

TLM_API void tlm_sampler_reset(tlm_sampler *s)
{
    if (!s) return;
    tlm_penalty_reset(&s->pen);
    s->rng = s->params.seed;
    if (s->grammar) tlm_gsampler_reset(s->grammar);
}

TLM_API tlm_status tlm_sampler_set_grammar(tlm_sampler *s, const tlm_grammar *g,
                                           const tlm_grammar_vocab *v, tlm_error *err)
{
    if (!s || (g && !v))
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_sampler_set_grammar: sampler and, with a "
                        "grammar, its vocabulary must not be NULL");
    tlm_gsampler *gs = NULL;
    if (g) {
        tlm_status st = tlm_gsampler_create(g, v, s->n_vocab, &gs, err);
        if (st != TLM_OK) return st;
    }
    tlm_gsampler_free(s->grammar);
    s->grammar = gs;
    return TLM_OK;
}

TLM_API tlm_status tlm_sampler_grammar_accept(tlm_sampler *s, int32_t id, tlm_error *err)
{
    if (!s) return tlm_fail(err, TLM_ERR_ARG, "tlm_sampler_grammar_accept: NULL sampler");
    if (s->grammar && !tlm_gsampler_accept(s->grammar, id))
        return tlm_fail(err, TLM_ERR_ARG, "grammar: token %d cannot continue the grammar here",
                        (int)id);
    return TLM_OK;
}

TLM_API tlm_status tlm_sampler_set_grammar_ends(tlm_sampler *s, const int32_t *ids, int32_t n,
                                                tlm_error *err)
{
    if (!s || !s->grammar || n < 0 || n > TLM_GSAMPLER_MAX_ENDS || (n > 0 && !ids))
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_sampler_set_grammar_ends: needs a sampler with "
                        "a grammar and 0 to %d ids",
                        TLM_GSAMPLER_MAX_ENDS);
    for (int32_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= s->n_vocab)
            return tlm_fail(err, TLM_ERR_ARG,
                            "tlm_sampler_set_grammar_ends: id %d is not in "
                            "[0, %d)",
                            (int)ids[i], (int)s->n_vocab);
    tlm_gsampler_set_ends(s->grammar, ids, n);
    return TLM_OK;
}

TLM_API bool tlm_sampler_grammar_can_end(const tlm_sampler *s)
{
    return !s || !s->grammar || tlm_gsampler_can_end(s->grammar);
}

TLM_API int32_t tlm_sampler_grammar_mask(tlm_sampler *s, uint8_t *allowed)
{
    if (!s || !s->grammar) return -1;
    int32_t n = tlm_gsampler_mask(s->grammar);
    if (allowed) memcpy(allowed, tlm_gsampler_allowed(s->grammar), (size_t)s->n_vocab);
    return n;
}

/* splitmix64: every seed, 0 included, gives a full-period, well-mixed stream. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double next_unit(uint64_t *state) /* uniform in [0, 1) */
{
    return (double)(next_u64(state) >> 11) * 0x1.0p-53;
}

/* NaN logits never win and never get probability. */
static int32_t argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    bool found = false;
    for (int32_t i = 0; i < n; i++) {
        if (isnan(logits[i])) continue;
        if (!found || logits[i] > logits[best]) best = i; /* strict: lowest id on ties */
        found = true;
    }
    return best;
}

/* More likely first; equal logits: lower id first. A strict total order, so every
 * selection below is deterministic. */
static bool ahead(const cand *a, const cand *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Binary heaps in place (no allocation: qsort may allocate). With max_root the most likely
 * candidate sits at the root, else the least likely. */
static bool above(const cand *a, const cand *b, bool max_root)
{
    return max_root ? ahead(a, b) : ahead(b, a);
}

static void sift_down(cand *h, int32_t n, int32_t i, bool max_root)
{
    cand x = h[i];
    for (;;) {
        int32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && above(&h[c + 1], &h[c], max_root)) c++;
        if (!above(&h[c], &x, max_root)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void heapify(cand *h, int32_t n, bool max_root)
{
    for (int32_t i = n / 2 - 1; i >= 0; i--)
        sift_down(h, n, i, max_root);
}

/* Moves the root of the heap h[0..n) to h[n - 1]; h[0..n - 1) stays a heap. */
static void pop_to_end(cand *h, int32_t n, bool max_root)
{
    cand t = h[0];
    h[0] = h[n - 1];
    h[n - 1] = t;
    sift_down(h, n - 1, 0, max_root);
}

/* Moves the k most likely of c[0..n) to c[0..k), sorted most likely first. */
static void keep_top_k(cand *c, int32_t n, int32_t k)
{
    heapify(c, k, false); /* least likely kept one at the root, to be replaced */
    for (int32_t i = k; i < n; i++) {
        if (ahead(&c[i], &c[0])) {
            c[0] = c[i];
            sift_down(c, k, 0, false);
        }
    }
    for (int32_t m = k; m > 1; m--)
        pop_to_end(c, m, false); /* least likely go last */
}

/* The nucleus of c[0..n) (unsorted): the fewest most likely candidates whose p reaches
 * target. They end up in c[n - keep .. n), least likely first; returns keep. */
static int32_t nucleus(cand *c, int32_t n, double target)
{
    heapify(c, n, true);
    double acc = 0.0;
    for (int32_t j = 0; j < n; j++) {
        pop_to_end(c, n - j, true);
        acc += c[n - 1 - j].p;
        if (acc >= target) return j + 1;
    }
    return n; /* rounding kept the sum below target: everything */
}

/* The logits the chain works on: the caller's, or a changed copy. With a grammar, ids it
 * does not allow become -inf; NULL when it allows none. */
static const float *step_logits(tlm_sampler *s, const float *logits)
{
    const float *l = logits;
    if (tlm_penalty_active(&s->pen)) {
        tlm_penalty_apply(&s->pen, logits, s->modified);
        l = s->modified;
    }
    if (!s->grammar) return l;
    if (tlm_gsampler_mask(s->grammar) == 0) return NULL;
    const uint8_t *ok = tlm_gsampler_allowed(s->grammar);
    for (int32_t i = 0; i < s->n_vocab; i++)
        s->modified[i] = ok[i] ? l[i] : -INFINITY;
    return s->modified;
}

static double sum_p(const cand *c, int32_t n)
{
    double total = 0.0;
    for (int32_t i = 0; i < n; i++)
        total += c[i].p;
    return total;
}

/* Step 3 of the chain for temperature > 0 and at least one logit that is not NaN: the
 * candidates left, *first[0 .. return value), with their unnormalised p summing to *total. */
static int32_t filter(tlm_sampler *s, const float *logits, cand **first, double *total)
{
    int32_t n_vocab = s->n_vocab;
    const tlm_sampler_params *p = &s->params;
    /* Subtract the max so exp() cannot overflow; NaN logits are left out entirely. */
    float max = logits[argmax(logits, n_vocab)];
    cand *c = s->cands;
    int32_t n = 0;
    for (int32_t i = 0; i < n_vocab; i++) {
        float l = logits[i];
        if (isnan(l)) continue;
        /* l == max also covers +inf logits, where l - max would be NaN */
        float e = l == max ? 1.0f : expf((l - max) / p->temperature);
        c[n++] = (cand){l, e, i};
    }

    bool sorted = false;
    if (p->top_k > 0 && p->top_k < n) {
        keep_top_k(c, n, p->top_k);
        n = p->top_k;
        sorted = true;
    }
    if (p->top_p < 1.0f) {
        double target = p->top_p * sum_p(c, n);
        int32_t keep = n;
        if (sorted) {
            double acc = 0.0;
            for (int32_t i = 0; i < n; i++) {
                acc += c[i].p;
                if (acc >= target) {
                    keep = i + 1;
                    break;
                }
            }
        } else {
            /* When at least one id holds (1 - top_p) / (n - 1) of the mass or more, the ids
             * below that share are at most n - 1 and hold less than 1 - top_p together, so
             * the likelier ones reach top_p first and the nucleus lies among them. Dropping
             * the rest first keeps a 150k-entry vocabulary cheap. */
            double cut = n > 1 ? (1.0 - p->top_p) / (n - 1) * sum_p(c, n) : 0.0;
            int32_t m = 0;
            for (int32_t i = 0; i < n; i++)
                if (c[i].p >= cut) c[m++] = c[i];
            if (m > 0) n = m; /* else no id reaches the share: search them all */
            keep = nucleus(c, n, target);
            c += n - keep;
        }
        n = keep;
    }
    if (p->min_p > 0.0f) {
        /* Relative to the most likely id left: renormalising does not change the ratio. */
        float top = 0.0f;
        for (int32_t i = 0; i < n; i++)
            top = c[i].p > top ? c[i].p : top;
        float floor_p = p->min_p * top;
        int32_t m = 0;
        for (int32_t i = 0; i < n; i++) /* stable, so the order stays deterministic */
            if (c[i].p >= floor_p) c[m++] = c[i];
        n = m;
    }
    *first = c;
    *total = sum_p(c, n);
    return n;
}

/* Steps 2-4 on the final logits l. */
static int32_t draw(tlm_sampler *s, const float *l)
{
    int32_t best = argmax(l, s->n_vocab);
    if (s->params.temperature == 0.0f || isnan(l[best])) return best; /* all NaN: id 0 */

    cand *c;
    double total;
    int32_t n = filter(s, l, &c, &total);
    double r = next_unit(&s->rng) * total, acc = 0.0;
    for (int32_t i = 0; i < n; i++) {
        acc += c[i].p;
        if (r < acc) return c[i].id;
    }
    /* rounding left r just past the sum: the last kept id with probability above zero */
    for (int32_t i = n - 1; i > 0; i--)
        if (c[i].p > 0.0f) return c[i].id;
    return c[0].id;
}

TLM_API int32_t tlm_sampler_sample(tlm_sampler *s, const float *logits)
{
    if (!s || !logits) return -1;
    const tlm_sampler_params *p = &s->params;
    if (s->grammar && p->top_k == 0 && p->top_p >= 1.0f && p->min_p == 0.0f) {
        /* Without truncation, the unconstrained draw kept when the grammar allows it is the
         * masked distribution exactly: for argmax, the best allowed id; for softmax, a draw
         * from p redrawn from p over the allowed ids when refused lands on each allowed id
         * with probability p / p(allowed). Usually it saves walking the vocabulary. */
        const float *l = logits;
        if (tlm_penalty_active(&s->pen)) {
            tlm_penalty_apply(&s->pen, logits, s->modified);
            l = s->modified;
        }
        int32_t id = draw(s, l);
        if (tlm_gsampler_allows(s->grammar, id)) return id;
    }
    const float *l = step_logits(s, logits);
    if (!l) return -1;
    return draw(s, l);
}

TLM_API tlm_status tlm_sampler_probs(tlm_sampler *s, const float *logits, float *probs)
{
    if (!s || !logits || !probs) return TLM_ERR_ARG;
    const float *l = step_logits(s, logits);
    for (int32_t i = 0; i < s->n_vocab; i++)
        probs[i] = 0.0f;
    if (!l) return TLM_OK;
    int32_t best = argmax(l, s->n_vocab);
    if (s->params.temperature == 0.0f || isnan(l[best])) {
        probs[best] = 1.0f;
        return TLM_OK;
    }
    cand *c;
    double total;
    int32_t n = filter(s, l, &c, &total);
    for (int32_t i = 0; i < n; i++)
        probs[c[i].id] = (float)(c[i].p / total);
    return TLM_OK;
}
