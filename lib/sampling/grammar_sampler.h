/* grammar_sampler.h - the grammar state a tlm_sampler carries (grammar_mask.c). */
#ifndef TLM_GRAMMAR_SAMPLER_H
#define TLM_GRAMMAR_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

#include "tinylm.h"

typedef struct tlm_gsampler tlm_gsampler;

tlm_status tlm_gsampler_create(const tlm_grammar *g, const tlm_grammar_vocab *v, int32_t n_vocab,
                               tlm_gsampler **out, tlm_error *err);
void tlm_gsampler_free(tlm_gsampler *gs);
tlm_status tlm_gsampler_reset(tlm_gsampler *gs);
/* Computes which ids may come next; returns how many. */
int32_t tlm_gsampler_mask(tlm_gsampler *gs);
/* How many masks came from the cache of recent states (grammar_cache.h), for tests. */
int64_t tlm_gsampler_cache_hits(const tlm_gsampler *gs);
const uint8_t *tlm_gsampler_allowed(const tlm_gsampler *gs); /* [n_vocab], after mask */
/* Advances over id's text; false (state unchanged) if the grammar does not allow it. */
bool tlm_gsampler_accept(tlm_gsampler *gs, int32_t id);
bool tlm_gsampler_can_end(const tlm_gsampler *gs);
/* The ids allowed where the grammar can end (at most TLM_GSAMPLER_MAX_ENDS, out-of-range ones
 * dropped); the default is the vocabulary's EOS. */
#define TLM_GSAMPLER_MAX_ENDS 16
void tlm_gsampler_set_ends(tlm_gsampler *gs, const int32_t *ids, int32_t n);
/* Whether the grammar allows id next, without the whole mask. */
bool tlm_gsampler_allows(tlm_gsampler *gs, int32_t id);

#endif
