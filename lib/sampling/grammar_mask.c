/* grammar_mask.c - grammar-constrained sampling: which tokens can continue the grammar.
 *
 * The vocabulary is a byte trie of token texts, built once per tokenizer
 * (tlm_grammar_vocab). Each step walks it depth first from the live stack set: a trie edge
 * is one byte through tlm_gmatch_step, a token is allowed when the set after its last byte
 * is not empty (an unfinished UTF-8 character counts if some completion can still match),
 * and a dead set cuts off the whole subtree, so tokens sharing a prefix share the work and
 * a narrow grammar state visits only a few branches. Control tokens (no text) are never
 * allowed, except EOS when the grammar can end. The stack nodes the walk makes are rolled
 * back afterwards. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grammar.h"
#include "grammar_cache.h"
#include "grammar_sampler.h"

typedef struct trie_node {
    int32_t first_child, next_sibling;
    int32_t first_token; /* tokens whose text ends here, chained by tok_next */
    unsigned char byte;
} trie_node;

struct tlm_grammar_vocab {
    trie_node *nodes;
    int32_t n_nodes, cap;
    int32_t *tok_next; /* [n_vocab] */
    int32_t *tok_len;  /* [n_vocab] text bytes (0: control or empty) */
    char **tok_text;   /* [n_vocab] borrowed from the tokenizer */
    int32_t n_vocab, eos;
};

static int32_t trie_child(tlm_grammar_vocab *v, int32_t node, unsigned char b)
{
    int32_t *link = &v->nodes[node].first_child;
    for (int32_t c = *link; c >= 0; c = v->nodes[c].next_sibling)
        if (v->nodes[c].byte == b) return c;
    if (v->n_nodes == v->cap) {
        if (v->cap >= (1 << 28)) return -1;
        int32_t cap = v->cap ? 2 * v->cap : 4096;
        trie_node *n = realloc(v->nodes, (size_t)cap * sizeof *n);
        if (!n) return -1;
        v->nodes = n;
        v->cap = cap;
        link = &v->nodes[node].first_child;
    }
    int32_t id = v->n_nodes++;
    v->nodes[id] = (trie_node){-1, *link, -1, b};
    *link = id;
    return id;
}

TLM_API void tlm_grammar_vocab_free(tlm_grammar_vocab *v)
{
    if (!v) return;
    free(v->nodes);
    free(v->tok_next);
    free(v->tok_len);
    free(v->tok_text);
    free(v);
}

TLM_API tlm_status tlm_grammar_vocab_create(const tlm_tokenizer *tok, tlm_grammar_vocab **out,
                                            tlm_error *err)
{
    if (out) *out = NULL;
    if (!tok || !out)
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_grammar_vocab_create: tok and out must not be "
                        "NULL");
    int32_t n = tlm_tokenizer_n_vocab(tok);
    tlm_grammar_vocab *v = calloc(1, sizeof *v);
    if (!v) return tlm_fail(err, TLM_ERR_NO_MEMORY, "grammar vocab: no memory");
    v->n_vocab = n;
    v->eos = tlm_tokenizer_eos(tok);
    v->tok_next = malloc((size_t)(n > 0 ? n : 1) * sizeof *v->tok_next);
    v->tok_len = calloc((size_t)(n > 0 ? n : 1), sizeof *v->tok_len);
    v->tok_text = calloc((size_t)(n > 0 ? n : 1), sizeof *v->tok_text);
    v->nodes = malloc(4096 * sizeof *v->nodes);
    if (!v->tok_next || !v->tok_len || !v->tok_text || !v->nodes) goto oom;
    v->cap = 4096;
    v->nodes[0] = (trie_node){-1, -1, -1, 0};
    v->n_nodes = 1;
    for (int32_t id = 0; id < n; id++) {
        size_t len = 0;
        /* prev -1: the text as it reads mid-stream (no SentencePiece start-of-text rule) */
        const char *p = tlm_token_piece(tok, -1, id, &len);
        v->tok_next[id] = -1;
        if (!p || len == 0 || len > (1u << 20)) continue;
        int32_t node = 0;
        for (size_t i = 0; i < len && node >= 0; i++)
            node = trie_child(v, node, (unsigned char)p[i]);
        if (node < 0) goto oom;
        v->tok_next[id] = v->nodes[node].first_token;
        v->nodes[node].first_token = id;
        v->tok_len[id] = (int32_t)len;
        v->tok_text[id] = (char *)(uintptr_t)p;
    }
    *out = v;
    return TLM_OK;
oom:
    tlm_grammar_vocab_free(v);
    return tlm_fail(err, TLM_ERR_NO_MEMORY, "grammar vocab: no memory for %d tokens", (int)n);
}

/* ---- the grammar state a sampler carries -------------------------------------------- */

struct tlm_gsampler {
    tlm_gmatch m;
    const tlm_grammar_vocab *v;
    uint8_t *allowed; /* [n_vocab of the sampler] */
    int32_t n_vocab;
    /* ids that end the text where the grammar can end: EOS, or a chat template's turn end */
    int32_t ends[TLM_GSAMPLER_MAX_ENDS];
    int32_t n_ends;
    tlm_gcache *cache; /* masks of recent states; NULL (no memory): always walk */
};

static bool is_end(const tlm_gsampler *gs, int32_t id)
{
    for (int32_t i = 0; i < gs->n_ends; i++)
        if (gs->ends[i] == id) return true;
    return false;
}

void tlm_gsampler_set_ends(tlm_gsampler *gs, const int32_t *ids, int32_t n)
{
    gs->n_ends = 0;
    for (int32_t i = 0; i < n && i < TLM_GSAMPLER_MAX_ENDS; i++)
        if (ids[i] >= 0 && ids[i] < gs->n_vocab) gs->ends[gs->n_ends++] = ids[i];
}

void tlm_gsampler_free(tlm_gsampler *gs)
{
    if (!gs) return;
    tlm_gmatch_free(&gs->m);
    tlm_gcache_free(gs->cache);
    free(gs->allowed);
    free(gs);
}

tlm_status tlm_gsampler_create(const tlm_grammar *g, const tlm_grammar_vocab *v, int32_t n_vocab,
                               tlm_gsampler **out, tlm_error *err)
{
    *out = NULL;
    tlm_gsampler *gs = calloc(1, sizeof *gs);
    if (!gs) return tlm_fail(err, TLM_ERR_NO_MEMORY, "grammar sampler: no memory");
    gs->v = v;
    gs->n_vocab = n_vocab;
    tlm_gsampler_set_ends(gs, &v->eos, 1);
    gs->allowed = malloc((size_t)n_vocab);
    gs->cache = tlm_gcache_new(n_vocab);
    if (!gs->allowed || tlm_gmatch_init(&gs->m, g) != TLM_OK) {
        tlm_gsampler_free(gs);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "grammar sampler: no memory");
    }
    *out = gs;
    return TLM_OK;
}

tlm_status tlm_gsampler_reset(tlm_gsampler *gs) { return tlm_gmatch_reset(&gs->m); }

static void walk(tlm_gsampler *gs, int32_t node, tlm_gset_run set, uint32_t partial, int32_t left)
{
    const tlm_grammar_vocab *v = gs->v;
    tlm_gmatch *m = &gs->m;
    for (int32_t c = v->nodes[node].first_child; c >= 0 && !m->failed;
         c = v->nodes[c].next_sibling) {
        int32_t saved = m->n_scratch;
        uint32_t p2 = partial;
        int32_t l2 = left;
        tlm_gset_run next = tlm_gmatch_step(m, set, v->nodes[c].byte, &p2, &l2);
        if (next.n > 0) {
            for (int32_t t = v->nodes[c].first_token; t >= 0; t = v->tok_next[t])
                if (t < gs->n_vocab) gs->allowed[t] = 1;
            if (v->nodes[c].first_child >= 0) walk(gs, c, next, p2, l2);
        }
        m->n_scratch = saved;
    }
}

/* The trie walk from the live stacks into gs->allowed (ends not yet added); false when a
 * matcher limit was hit (then nothing is allowed). */
static bool walk_all(tlm_gsampler *gs)
{
    tlm_gmatch *m = &gs->m;
    memset(gs->allowed, 0, (size_t)gs->n_vocab);
    int32_t mark = m->n_nodes;
    m->n_scratch = 0;
    for (int32_t i = 0; i < m->n_live; i++)
        m->scratch[m->n_scratch++] = m->live[i]; /* scratch holds at least the live set */
    tlm_gset_run root = {0, m->n_live};
    walk(gs, 0, root, m->partial, m->partial_left);
    bool hit_limit = m->failed;
    /* the walk's nodes are trial stacks: drop them */
    while (m->n_nodes > mark) {
        int32_t id = --m->n_nodes;
        m->hash[m->slot_of[id]] = -1;
    }
    m->n_scratch = 0;
    m->failed = hit_limit;
    if (hit_limit) memset(gs->allowed, 0, (size_t)gs->n_vocab);
    return !hit_limit;
}

int32_t tlm_gsampler_mask(tlm_gsampler *gs)
{
    tlm_gmatch *m = &gs->m;
    if (m->failed) {
        memset(gs->allowed, 0, (size_t)gs->n_vocab);
        return 0;
    }
    /* a state seen lately gives its mask back without the walk (grammar_cache.h) */
    bool keyed = tlm_gcache_key(gs->cache, m);
    if (!(keyed && tlm_gcache_get(gs->cache, gs->allowed)) && walk_all(gs) && keyed)
        tlm_gcache_put(gs->cache, gs->allowed);
    if (tlm_gmatch_can_end(m))
        for (int32_t i = 0; i < gs->n_ends; i++)
            gs->allowed[gs->ends[i]] = 1;
    int32_t count = 0;
    for (int32_t i = 0; i < gs->n_vocab; i++)
        count += gs->allowed[i];
    return count;
}

int64_t tlm_gsampler_cache_hits(const tlm_gsampler *gs) { return tlm_gcache_hits(gs->cache); }

const uint8_t *tlm_gsampler_allowed(const tlm_gsampler *gs) { return gs->allowed; }

bool tlm_gsampler_accept(tlm_gsampler *gs, int32_t id)
{
    const tlm_grammar_vocab *v = gs->v;
    if (id < 0 || id >= gs->n_vocab) return false;
    if (is_end(gs, id)) return tlm_gmatch_can_end(&gs->m);
    if (id >= v->n_vocab || v->tok_len[id] == 0) return false;
    return tlm_gmatch_accept(&gs->m, (const unsigned char *)v->tok_text[id],
                             (size_t)v->tok_len[id]);
}

bool tlm_gsampler_allows(tlm_gsampler *gs, int32_t id)
{
    const tlm_grammar_vocab *v = gs->v;
    if (id < 0 || id >= gs->n_vocab) return false;
    if (is_end(gs, id)) return tlm_gmatch_can_end(&gs->m);
    if (id >= v->n_vocab || v->tok_len[id] == 0) return false;
    return tlm_gmatch_allows(&gs->m, (const unsigned char *)v->tok_text[id],
                             (size_t)v->tok_len[id]);
}

bool tlm_gsampler_can_end(const tlm_gsampler *gs) { return tlm_gmatch_can_end(&gs->m); }

/* ---- matching a whole text (tests, tools) ------------------------------------------- */

TLM_API tlm_status tlm_grammar_match(const tlm_grammar *g, const char *text, size_t len,
                                     bool *prefix_ok, bool *complete, tlm_error *err)
{
    if (prefix_ok) *prefix_ok = false;
    if (complete) *complete = false;
    if (!g || (!text && len > 0))
        return tlm_fail(err, TLM_ERR_ARG, "tlm_grammar_match: grammar and text must not be NULL");
    tlm_gmatch m;
    if (tlm_gmatch_init(&m, g) != TLM_OK) {
        tlm_gmatch_free(&m);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "grammar: no memory");
    }
    bool ok = tlm_gmatch_accept(&m, (const unsigned char *)text, len);
    if (!ok && m.failed) {
        tlm_gmatch_free(&m);
        return tlm_fail(err, TLM_ERR_NO_MEMORY,
                        "grammar: matcher limits exceeded (a grammar "
                        "this ambiguous needs over 65536 stacks)");
    }
    if (prefix_ok) *prefix_ok = ok;
    if (complete) *complete = ok && tlm_gmatch_can_end(&m);
    tlm_gmatch_free(&m);
    return TLM_OK;
}
