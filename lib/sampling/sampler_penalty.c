/* sampler_penalty.c - logit biases and penalties on recently accepted ids (see
 * sampler_penalty.h and docs/sampling.md).
 *
 * Each changed logit is computed from the caller's value, never from an already changed one:
 * out[id] = penalise(logits[id] + bias[id], count[id]). Writing it twice gives the same
 * value, so the ring may hold an id several times and is walked as it is, with no marks to
 * clear: a step costs O(window), not O(vocabulary). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "sampler_penalty.h"

static bool penalties_on(const tlm_sampler_params *p)
{
    return p->repeat_penalty != 1.0f || p->presence_penalty != 0.0f || p->frequency_penalty != 0.0f;
}

/* Checks written so that NaN fails each of them too. */
static tlm_status check_params(const tlm_sampler_params *p, int32_t n_vocab, tlm_error *err)
{
    if (!(p->repeat_penalty > 0.0f) || isinf(p->repeat_penalty))
        return tlm_fail(err, TLM_ERR_ARG,
                        "sampler: repeat_penalty %g must be finite and > 0 (1: off)",
                        (double)p->repeat_penalty);
    if (!(p->presence_penalty >= -2.0f && p->presence_penalty <= 2.0f))
        return tlm_fail(err, TLM_ERR_ARG,
                        "sampler: presence_penalty %g must be in [-2, 2] (0: off)",
                        (double)p->presence_penalty);
    if (!(p->frequency_penalty >= -2.0f && p->frequency_penalty <= 2.0f))
        return tlm_fail(err, TLM_ERR_ARG,
                        "sampler: frequency_penalty %g must be in [-2, 2] (0: off)",
                        (double)p->frequency_penalty);
    if (p->repeat_last_n < -1)
        return tlm_fail(err, TLM_ERR_ARG,
                        "sampler: repeat_last_n %d must be >= -1 (0: no history, -1: all)",
                        (int)p->repeat_last_n);
    if (p->n_logit_bias < 0 || (p->n_logit_bias > 0 && !p->logit_bias))
        return tlm_fail(err, TLM_ERR_ARG,
                        "sampler: n_logit_bias %d needs a logit_bias array of that many entries",
                        (int)p->n_logit_bias);
    for (int32_t i = 0; i < p->n_logit_bias; i++) {
        const tlm_logit_bias *b = &p->logit_bias[i];
        if (b->id < 0 || b->id >= n_vocab)
            return tlm_fail(err, TLM_ERR_ARG, "sampler: logit_bias[%d].id %d is outside [0, %d)",
                            (int)i, (int)b->id, (int)n_vocab);
        if (!isfinite(b->bias))
            return tlm_fail(err, TLM_ERR_ARG, "sampler: logit_bias[%d].bias %g must be finite",
                            (int)i, (double)b->bias);
    }
    return TLM_OK;
}

tlm_status tlm_penalty_init(tlm_penalty *pen, const tlm_sampler_params *p, int32_t n_vocab,
                            tlm_error *err)
{
    memset(pen, 0, sizeof *pen);
    tlm_status st = check_params(p, n_vocab, err);
    if (st != TLM_OK) return st;
    pen->n_vocab = n_vocab;
    pen->repeat = p->repeat_penalty;
    pen->presence = p->presence_penalty;
    pen->frequency = p->frequency_penalty;
    pen->window = penalties_on(p) ? p->repeat_last_n : 0;
    bool ok = true;
    if (pen->window != 0) {
        size_t n_hist = pen->window > 0 ? (size_t)pen->window : (size_t)n_vocab;
        pen->count = calloc((size_t)n_vocab, sizeof *pen->count);
        pen->hist = malloc(n_hist * sizeof *pen->hist);
        ok = pen->count && pen->hist;
    }
    if (ok && p->n_logit_bias > 0) {
        pen->bias = calloc((size_t)n_vocab, sizeof *pen->bias);
        pen->bias_ids = malloc((size_t)p->n_logit_bias * sizeof *pen->bias_ids);
        ok = pen->bias && pen->bias_ids;
        for (int32_t i = 0; ok && i < p->n_logit_bias; i++) {
            const tlm_logit_bias *b = &p->logit_bias[i];
            bool seen = false;
            for (int32_t j = 0; j < pen->n_bias_ids && !seen; j++)
                seen = pen->bias_ids[j] == b->id;
            if (!seen) pen->bias_ids[pen->n_bias_ids++] = b->id;
            pen->bias[b->id] += b->bias;
        }
    }
    if (!ok) {
        tlm_penalty_free(pen);
        return tlm_fail(err, TLM_ERR_NO_MEMORY,
                        "sampler: no memory for the penalty history of %d ids", (int)n_vocab);
    }
    return TLM_OK;
}

void tlm_penalty_free(tlm_penalty *pen)
{
    free(pen->count);
    free(pen->hist);
    free(pen->bias);
    free(pen->bias_ids);
    memset(pen, 0, sizeof *pen);
}

void tlm_penalty_accept(tlm_penalty *pen, int32_t id)
{
    if (pen->window == 0 || id < 0 || id >= pen->n_vocab) return;
    if (pen->window < 0) {
        if (pen->count[id] == 0) pen->hist[pen->n_hist++] = id;
        if (pen->count[id] < INT32_MAX) pen->count[id]++;
        return;
    }
    if (pen->n_hist == pen->window)
        pen->count[pen->hist[pen->head]]--; /* the oldest id leaves the window */
    else
        pen->n_hist++;
    pen->hist[pen->head] = id;
    pen->count[id]++;
    pen->head = pen->head + 1 == pen->window ? 0 : pen->head + 1;
}

void tlm_penalty_reset(tlm_penalty *pen)
{
    for (int32_t i = 0; i < pen->n_hist; i++)
        pen->count[pen->hist[i]] = 0;
    pen->n_hist = 0;
    pen->head = 0;
}

bool tlm_penalty_active(const tlm_penalty *pen) { return pen->n_bias_ids > 0 || pen->n_hist > 0; }

/* CTRL's repetition penalty divides a positive logit and multiplies a negative one, so a
 * penalty > 1 always makes the id less likely; then OpenAI's presence and frequency terms. */
static float penalise(const tlm_penalty *pen, float l, int32_t count)
{
    if (pen->repeat != 1.0f) l = l > 0.0f ? l / pen->repeat : l * pen->repeat;
    return l - pen->presence - pen->frequency * (float)count;
}

void tlm_penalty_apply(const tlm_penalty *pen, const float *logits, float *out)
{
    memcpy(out, logits, (size_t)pen->n_vocab * sizeof *out);
    for (int32_t i = 0; i < pen->n_bias_ids; i++) {
        int32_t id = pen->bias_ids[i];
        out[id] = logits[id] + pen->bias[id];
    }
    for (int32_t i = 0; i < pen->n_hist; i++) {
        int32_t id = pen->hist[i];
        float base = pen->bias ? logits[id] + pen->bias[id] : logits[id];
        out[id] = penalise(pen, base, pen->count[id]);
    }
}
