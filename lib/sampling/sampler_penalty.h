/* sampler_penalty.h - the sampler's changes to the logits before softmax: additive logit
 * biases, then repetition, presence and frequency penalties on the ids accepted in the last
 * repeat_last_n steps. */
#ifndef TLM_SAMPLER_PENALTY_H
#define TLM_SAMPLER_PENALTY_H

#include <stdbool.h>
#include <stdint.h>

#include "tinylm.h"

typedef struct tlm_penalty {
    int32_t n_vocab;
    float repeat, presence, frequency;
    /* History, kept only when some penalty is on and repeat_last_n != 0. */
    int32_t window; /* > 0: a ring of the last `window` ids; -1: every id ever accepted */
    int32_t *count; /* [n_vocab] occurrences of each id in the history */
    int32_t *hist;  /* window > 0: the ring [window]; -1: distinct ids seen [n_vocab] */
    int32_t n_hist; /* entries of hist in use */
    int32_t head;   /* window > 0: the ring slot written next (the oldest once full) */
    /* Biases, summed per id when an id is given twice. */
    float *bias;       /* [n_vocab], or NULL without biases */
    int32_t *bias_ids; /* the distinct ids with a bias */
    int32_t n_bias_ids;
} tlm_penalty;

/* Validates the penalty and bias fields of p (TLM_ERR_ARG naming the field) and allocates
 * everything the step will need. On failure pen holds nothing to free. */
tlm_status tlm_penalty_init(tlm_penalty *pen, const tlm_sampler_params *p, int32_t n_vocab,
                            tlm_error *err);
void tlm_penalty_free(tlm_penalty *pen);

void tlm_penalty_accept(tlm_penalty *pen, int32_t id); /* ids outside [0, n_vocab): ignored */
void tlm_penalty_reset(tlm_penalty *pen);

/* Whether tlm_penalty_apply would change any logit now. */
bool tlm_penalty_active(const tlm_penalty *pen);

/* out = logits with the biases added and the penalties applied. Costs a copy of the logits
 * plus O(biases + history): never a pass per id over the vocabulary. */
void tlm_penalty_apply(const tlm_penalty *pen, const float *logits, float *out);

#endif
