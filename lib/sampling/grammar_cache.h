/* grammar_cache.h - the token masks of recent grammar states (grammar_mask.c). A generation
 * under a grammar keeps coming back to the same state (every character inside a JSON string,
 * every digit of a number), and the mask of a state never changes, so the trie walk is paid
 * once per state. A state is keyed by its content - each live stack's element positions and
 * the unfinished UTF-8 character - not by node ids, which compaction renumbers. */
#ifndef TLM_GRAMMAR_CACHE_H
#define TLM_GRAMMAR_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "grammar.h"

typedef struct tlm_gcache tlm_gcache;

tlm_gcache *tlm_gcache_new(int32_t n_vocab);
void tlm_gcache_free(tlm_gcache *c);
/* Forms m's key; false when the state is too big to cache (then get/put do nothing). */
bool tlm_gcache_key(tlm_gcache *c, const tlm_gmatch *m);
/* On a hit for the key formed last: allowed[n_vocab] gets the stored mask; true. */
bool tlm_gcache_get(tlm_gcache *c, uint8_t *allowed);
/* Stores allowed[n_vocab] under the key formed last (replacing the oldest entry). */
void tlm_gcache_put(tlm_gcache *c, const uint8_t *allowed);
/* Lookups that hit, for tests. */
int64_t tlm_gcache_hits(const tlm_gcache *c);

#endif
