/* grammar_cache.c - token masks of recent grammar states (grammar_cache.h). Entries hold the
 * mask as bits (19 KB at 152k ids) and are replaced oldest first. */
#include "grammar_cache.h"

#include <stdlib.h>
#include <string.h>

enum { N_ENTRIES = 16, MAX_KEY = 4096 }; /* key: int32 words */

typedef struct gentry {
    int32_t *key;
    int32_t n_key;
    uint64_t hash;
    uint64_t *bits;
} gentry;

struct tlm_gcache {
    int32_t n_vocab;
    gentry e[N_ENTRIES];
    int32_t next; /* the entry replaced next */
    int32_t key[MAX_KEY], n_key;
    uint64_t hash;
    bool keyed;
    int64_t hits;
};

tlm_gcache *tlm_gcache_new(int32_t n_vocab)
{
    tlm_gcache *c = calloc(1, sizeof *c);
    if (c) c->n_vocab = n_vocab;
    return c;
}

void tlm_gcache_free(tlm_gcache *c)
{
    if (!c) return;
    for (int i = 0; i < N_ENTRIES; i++) {
        free(c->e[i].key);
        free(c->e[i].bits);
    }
    free(c);
}

int64_t tlm_gcache_hits(const tlm_gcache *c) { return c ? c->hits : 0; }

/* Stacks compared by content, top first (-1, the empty stack, is the shortest). */
static int stack_cmp(const tlm_gmatch *m, int32_t a, int32_t b)
{
    while (a >= 0 && b >= 0) {
        if (m->nodes[a].pos != m->nodes[b].pos) return m->nodes[a].pos < m->nodes[b].pos ? -1 : 1;
        a = m->nodes[a].parent;
        b = m->nodes[b].parent;
    }
    return (a >= 0) - (b >= 0);
}

bool tlm_gcache_key(tlm_gcache *c, const tlm_gmatch *m)
{
    if (!c) return false;
    c->keyed = false;
    if (m->failed || m->n_live > 256) return false;
    int32_t order[256]; /* the live stacks by content: insertion sort, the sets are small */
    for (int32_t i = 0; i < m->n_live; i++) {
        int32_t s = m->live[i], j = i;
        for (; j > 0 && stack_cmp(m, order[j - 1], s) > 0; j--)
            order[j] = order[j - 1];
        order[j] = s;
    }
    int32_t n = 0;
    c->key[n++] = m->partial_left ? (int32_t)m->partial : 0; /* the last character otherwise */
    c->key[n++] = m->partial_left;
    for (int32_t i = 0; i < m->n_live; i++) {
        for (int32_t s = order[i]; s >= 0; s = m->nodes[s].parent) {
            if (n >= MAX_KEY - 1) return false;
            c->key[n++] = m->nodes[s].pos;
        }
        c->key[n++] = -1; /* end of a stack */
    }
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the words */
    for (int32_t i = 0; i < n; i++)
        h = (h ^ (uint32_t)c->key[i]) * 1099511628211ull;
    c->n_key = n;
    c->hash = h;
    c->keyed = true;
    return true;
}

bool tlm_gcache_get(tlm_gcache *c, uint8_t *allowed)
{
    if (!c || !c->keyed) return false;
    for (int i = 0; i < N_ENTRIES; i++) {
        const gentry *e = &c->e[i];
        if (!e->bits || e->hash != c->hash || e->n_key != c->n_key ||
            memcmp(e->key, c->key, (size_t)c->n_key * sizeof *c->key) != 0)
            continue;
        for (int32_t t = 0; t < c->n_vocab; t++)
            allowed[t] = (uint8_t)(e->bits[t >> 6] >> (t & 63) & 1);
        c->hits++;
        return true;
    }
    return false;
}

void tlm_gcache_put(tlm_gcache *c, const uint8_t *allowed)
{
    if (!c || !c->keyed) return;
    gentry *e = &c->e[c->next];
    size_t words = ((size_t)c->n_vocab + 63) / 64;
    if (!e->bits) e->bits = malloc(words * sizeof *e->bits);
    int32_t *key = realloc(e->key, (size_t)c->n_key * sizeof *key);
    if (!e->bits || !key) { /* no memory: simply not cached */
        if (key) e->key = key;
        free(e->bits);
        e->bits = NULL;
        return;
    }
    e->key = key;
    memcpy(e->key, c->key, (size_t)c->n_key * sizeof *key);
    e->n_key = c->n_key;
    e->hash = c->hash;
    memset(e->bits, 0, words * sizeof *e->bits);
    for (int32_t t = 0; t < c->n_vocab; t++)
        if (allowed[t]) e->bits[t >> 6] |= 1ull << (t & 63);
    c->next = (c->next + 1) % N_ENTRIES;
}
