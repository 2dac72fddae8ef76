/* grammar.c - the stack-set matcher over a compiled grammar (grammar.h), over code points
 * fed as bytes. The state is the set of every way the text so far can be continued: each a
 * stack of positions in rule bodies, its top a character set still to match. A code point
 * steps each stack past the set it matches and expands rule references at the new top
 * (one stack per alternative), so left recursion, refused by the parser, is the only way
 * this could not end. Stacks are hash-consed (pos, parent) nodes: pushing is one lookup,
 * equal stacks are equal ids, and the nodes a trial creates (the token-trie walk in
 * grammar_mask.c) are dropped afterwards by rolling the table back. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grammar.h"

#define MAX_NODES (1 << 24) /* live and scratch stack nodes together */
#define MAX_SET (1 << 16)   /* stacks in one set: more means a hopelessly ambiguous grammar */
#define MAX_EXPAND_DEPTH 4096

bool tlm_gset_match(const tlm_gelem *el, uint32_t c, const tlm_gelem **next)
{
    if (el->type == TLM_GE_CHAR_ANY) {
        *next = el + 1;
        return true;
    }
    bool negate = el->type == TLM_GE_CHAR_NOT, found = false;
    do {
        if (el[1].type == TLM_GE_RNG_UPPER) {
            found = found || (el->value <= c && c <= el[1].value);
            el += 2;
        } else {
            found = found || el->value == c;
            el += 1;
        }
    } while (el->type == TLM_GE_CHAR_ALT);
    *next = el;
    return found != negate;
}

bool tlm_gset_match_range(const tlm_gelem *el, uint32_t lo, uint32_t hi)
{
    if (el->type == TLM_GE_CHAR_ANY) return true;
    bool negate = el->type == TLM_GE_CHAR_NOT;
    if (!negate) {
        do {
            uint32_t a = el->value, b = el[1].type == TLM_GE_RNG_UPPER ? el[1].value : a;
            if (a <= hi && lo <= b) return true;
            el += el[1].type == TLM_GE_RNG_UPPER ? 2 : 1;
        } while (el->type == TLM_GE_CHAR_ALT);
        return false;
    }
    /* negated: some x in [lo, hi] outside every listed range. Move x past each range that
     * holds it; at most one pass per range. */
    uint32_t x = lo;
    for (bool moved = true; moved;) {
        moved = false;
        const tlm_gelem *e = el;
        do {
            uint32_t a = e->value, b = e[1].type == TLM_GE_RNG_UPPER ? e[1].value : a;
            if (a <= x && x <= b) {
                if (b >= hi) return false;
                x = b + 1;
                moved = true;
            }
            e += e[1].type == TLM_GE_RNG_UPPER ? 2 : 1;
        } while (e->type == TLM_GE_CHAR_ALT);
    }
    return true;
}

/* ---- hash-consed stack nodes --------------------------------------------------------- */

static uint32_t hash2(int32_t pos, int32_t parent)
{
    uint64_t h = (uint64_t)(uint32_t)pos * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uint32_t)parent;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(h >> 32);
}

static bool grow_nodes(tlm_gmatch *m)
{
    if (m->cap >= MAX_NODES) return false;
    int32_t cap = m->cap ? 2 * m->cap : 1024;
    tlm_gnode *n = realloc(m->nodes, (size_t)cap * sizeof *n);
    if (!n) return false;
    m->nodes = n;
    int32_t *s = realloc(m->slot_of, (size_t)cap * sizeof *s);
    if (!s) return false;
    m->slot_of = s;
    uint32_t *st = realloc(m->stamp, (size_t)cap * sizeof *st);
    if (!st) return false;
    memset(st + m->cap, 0, (size_t)(cap - m->cap) * sizeof *st);
    m->stamp = st;
    /* the hash table at most half full */
    int32_t hcap = 2 * cap;
    int32_t *h = malloc((size_t)hcap * sizeof *h);
    if (!h) return false;
    for (int32_t i = 0; i < hcap; i++)
        h[i] = -1;
    for (int32_t i = 0; i < m->n_nodes; i++) {
        uint32_t at = hash2(m->nodes[i].pos, m->nodes[i].parent) & (uint32_t)(hcap - 1);
        while (h[at] >= 0)
            at = (at + 1) & (uint32_t)(hcap - 1);
        h[at] = i;
        m->slot_of[i] = (int32_t)at;
    }
    free(m->hash);
    m->hash = h;
    m->hash_cap = hcap;
    m->cap = cap;
    return true;
}

/* The node for (pos, parent), made if new; -2 on failure (m->failed set). */
static int32_t intern(tlm_gmatch *m, int32_t pos, int32_t parent)
{
    uint32_t mask = (uint32_t)(m->hash_cap - 1);
    uint32_t at = m->hash_cap ? hash2(pos, parent) & mask : 0;
    if (m->hash_cap) {
        while (m->hash[at] >= 0) {
            const tlm_gnode *n = &m->nodes[m->hash[at]];
            if (n->pos == pos && n->parent == parent) return m->hash[at];
            at = (at + 1) & mask;
        }
    }
    if (m->n_nodes == m->cap) {
        if (!grow_nodes(m)) {
            m->failed = true;
            return -2;
        }
        mask = (uint32_t)(m->hash_cap - 1);
        at = hash2(pos, parent) & mask;
        while (m->hash[at] >= 0)
            at = (at + 1) & mask;
    }
    int32_t id = m->n_nodes++;
    m->nodes[id] = (tlm_gnode){pos, parent};
    m->hash[at] = id;
    m->slot_of[id] = (int32_t)at;
    return id;
}

/* Drops every node made after the table had `mark` nodes. Removing in reverse order of
 * insertion restores linear probing's table exactly. */
static void rollback(tlm_gmatch *m, int32_t mark)
{
    while (m->n_nodes > mark) {
        int32_t id = --m->n_nodes;
        m->hash[m->slot_of[id]] = -1;
    }
}

/* ---- stack sets ---------------------------------------------------------------------- */

static bool scratch_push(tlm_gmatch *m, int32_t v)
{
    if (m->n_scratch == m->scratch_cap) {
        if (m->scratch_cap >= (1 << 26)) return false;
        int32_t cap = m->scratch_cap ? 2 * m->scratch_cap : 1024;
        int32_t *s = realloc(m->scratch, (size_t)cap * sizeof *s);
        if (!s) return false;
        m->scratch = s;
        m->scratch_cap = cap;
    }
    m->scratch[m->n_scratch++] = v;
    return true;
}

/* Adds stack s to the set being built (the scratch run from *run), once. The empty stack
 * is -1 and is stamped in a slot of its own. */
static void set_add(tlm_gmatch *m, tlm_gset_run *run, int32_t s, bool *has_empty)
{
    if (s < 0) {
        if (*has_empty) return;
        *has_empty = true;
    } else {
        if (m->stamp[s] == m->serial) return;
        m->stamp[s] = m->serial;
    }
    if (run->n >= MAX_SET || !scratch_push(m, s)) {
        m->failed = true;
        return;
    }
    run->n++;
}

/* Adds to the set every stack whose top is a character set (or the empty stack) that s
 * stands for: a rule reference at the top is replaced by each of its alternatives. */
static void expand(tlm_gmatch *m, tlm_gset_run *run, int32_t s, bool *has_empty, int depth)
{
    if (m->failed) return;
    if (depth > MAX_EXPAND_DEPTH) {
        m->failed = true;
        return;
    }
    if (s < 0) {
        set_add(m, run, -1, has_empty);
        return;
    }
    const tlm_grammar *g = m->g;
    int32_t pos = m->nodes[s].pos;
    const tlm_gelem *e = &g->el[pos];
    if (e->type != TLM_GE_RULE_REF) {
        set_add(m, run, s, has_empty);
        return;
    }
    int32_t rest = m->nodes[s].parent;
    if (!tlm_gelem_is_end(g->el[pos + 1].type)) {
        rest = intern(m, pos + 1, rest);
        if (rest == -2) return;
    }
    int32_t at = g->rule_at[e->value];
    for (;;) {
        if (tlm_gelem_is_end(g->el[at].type)) {
            expand(m, run, rest, has_empty, depth + 1); /* an empty alternative */
        } else {
            int32_t t = intern(m, at, rest);
            if (t == -2) return;
            expand(m, run, t, has_empty, depth + 1);
        }
        while (!tlm_gelem_is_end(g->el[at].type))
            at++;
        if (g->el[at].type == TLM_GE_END) break;
        at++; /* past ALT */
    }
}

/* The unfinished character is carried as its bits so far with its total length in bits
 * 24..26, so that overlong forms, surrogates and values past U+10FFFF are refused: only
 * what Python's strict UTF-8 decoder accepts can be produced. */
static const uint32_t min_of_len[5] = {0, 0, 0x80, 0x800, 0x10000};

static bool cp_valid(uint32_t cp, uint32_t total)
{
    return cp >= min_of_len[total] && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
}

/* Whether some valid code point that the bits so far (with `left` bytes to come) can still
 * make matches the set at el. */
static bool partial_can_match(const tlm_gelem *el, uint32_t bits, uint32_t total, int32_t left)
{
    uint32_t lo = bits << (6 * left), hi = lo | ((1u << (6 * left)) - 1);
    if (lo < min_of_len[total]) lo = min_of_len[total];
    if (hi > 0x10FFFF) hi = 0x10FFFF;
    if (lo > hi) return false;
    if (hi < 0xD800 || lo > 0xDFFF) return tlm_gset_match_range(el, lo, hi);
    return (lo < 0xD800 && tlm_gset_match_range(el, lo, 0xD7FF)) ||
           (hi > 0xDFFF && tlm_gset_match_range(el, 0xE000, hi));
}

tlm_gset_run tlm_gmatch_step(tlm_gmatch *m, tlm_gset_run set, unsigned char b, uint32_t *partial,
                             int32_t *left)
{
    tlm_gset_run out = {m->n_scratch, 0};
    uint32_t cp, total;
    if (*left == 0) {
        int more = b < 0x80                 ? 0
                   : b >= 0xC2 && b <= 0xDF ? 1
                   : (b & 0xF0) == 0xE0     ? 2
                   : b >= 0xF0 && b <= 0xF4 ? 3
                                            : -1;
        if (more < 0) return out;
        cp = more == 0 ? b : more == 1 ? b & 0x1Fu : more == 2 ? b & 0x0Fu : b & 0x07u;
        *left = more;
        total = (uint32_t)more + 1;
    } else {
        if ((b & 0xC0) != 0x80) return out;
        total = *partial >> 24;
        cp = ((*partial & 0xFFFFFFu) << 6) | (b & 0x3Fu);
        (*left)--;
    }
    *partial = cp | (total << 24);
    m->serial++;
    bool has_empty = false;
    if (*left > 0) { /* unfinished: keep the stacks whose set can still match */
        for (int32_t i = 0; i < set.n; i++) {
            int32_t s = m->scratch[set.at + i];
            if (s >= 0 && partial_can_match(&m->g->el[m->nodes[s].pos], cp, total, *left))
                set_add(m, &out, s, &has_empty);
        }
        return out;
    }
    if (!cp_valid(cp, total)) return out;
    for (int32_t i = 0; i < set.n && !m->failed; i++) {
        int32_t s = m->scratch[set.at + i];
        if (s < 0) continue; /* the grammar has ended: nothing more may come */
        const tlm_gelem *next;
        if (!tlm_gset_match(&m->g->el[m->nodes[s].pos], cp, &next)) continue;
        int32_t rest = m->nodes[s].parent;
        int32_t npos = (int32_t)(next - m->g->el);
        if (!tlm_gelem_is_end(next->type)) {
            rest = intern(m, npos, rest);
            if (rest == -2) break;
        }
        expand(m, &out, rest, &has_empty, 0);
    }
    if (m->failed) out.n = 0;
    return out;
}

/* ---- the live state ---------------------------------------------------------------- */

static bool set_live(tlm_gmatch *m, tlm_gset_run run)
{
    if (run.n > m->live_cap) {
        int32_t *l = realloc(m->live, (size_t)run.n * sizeof *l);
        if (!l) return false;
        m->live = l;
        m->live_cap = run.n;
    }
    memcpy(m->live, m->scratch + run.at, (size_t)run.n * sizeof *m->live);
    m->n_live = run.n;
    return true;
}

tlm_status tlm_gmatch_reset(tlm_gmatch *m)
{
    rollback(m, 0);
    m->n_scratch = 0;
    m->failed = false;
    m->partial = 0;
    m->partial_left = 0;
    /* the start: the root rule's reference expanded, with nothing under it */
    const tlm_grammar *g = m->g;
    tlm_gset_run run = {0, 0};
    bool has_empty = false;
    m->serial++;
    int32_t at = g->rule_at[g->root];
    for (;;) {
        if (tlm_gelem_is_end(g->el[at].type)) {
            expand(m, &run, -1, &has_empty, 0);
        } else {
            int32_t t = intern(m, at, -1);
            if (t == -2) break;
            expand(m, &run, t, &has_empty, 0);
        }
        while (!tlm_gelem_is_end(g->el[at].type))
            at++;
        if (g->el[at].type == TLM_GE_END) break;
        at++;
    }
    if (m->failed || !set_live(m, run)) {
        m->failed = true;
        return TLM_ERR_NO_MEMORY;
    }
    m->n_scratch = 0;
    return TLM_OK;
}

tlm_status tlm_gmatch_init(tlm_gmatch *m, const tlm_grammar *g)
{
    memset(m, 0, sizeof *m);
    m->g = g;
    return tlm_gmatch_reset(m);
}

void tlm_gmatch_free(tlm_gmatch *m)
{
    free(m->nodes);
    free(m->slot_of);
    free(m->stamp);
    free(m->hash);
    free(m->live);
    free(m->scratch);
    memset(m, 0, sizeof *m);
}

/* Rebuilds the node table with only the live stacks' nodes, so a long generation does not
 * keep every stack it ever had. */
static void compact(tlm_gmatch *m)
{
    int32_t n = m->n_nodes;
    tlm_gnode *old = malloc((size_t)n * sizeof *old);
    int32_t *map = malloc((size_t)n * sizeof *map);
    if (!old || !map) { /* keep the big table: still correct */
        free(old);
        free(map);
        return;
    }
    memcpy(old, m->nodes, (size_t)n * sizeof *old);
    for (int32_t i = 0; i < n; i++)
        map[i] = -3;
    rollback(m, 0);
    /* children have higher ids than parents, so reinterning in id order of reachable nodes
     * finds each parent already mapped */
    for (int32_t i = 0; i < m->n_live; i++)
        for (int32_t s = m->live[i]; s >= 0 && map[s] == -3; s = old[s].parent)
            map[s] = -4; /* reachable */
    for (int32_t i = 0; i < n; i++) {
        if (map[i] != -4) continue;
        int32_t parent = old[i].parent < 0 ? -1 : map[old[i].parent];
        map[i] = intern(m, old[i].pos, parent);
    }
    for (int32_t i = 0; i < m->n_live; i++)
        if (m->live[i] >= 0) m->live[i] = map[m->live[i]];
    free(old);
    free(map);
}

bool tlm_gmatch_accept(tlm_gmatch *m, const unsigned char *s, size_t n)
{
    if (m->failed) return false;
    int32_t mark = m->n_nodes;
    uint32_t partial = m->partial;
    int32_t left = m->partial_left;
    m->n_scratch = 0;
    tlm_gset_run run = {0, 0};
    for (int32_t i = 0; i < m->n_live; i++)
        if (!scratch_push(m, m->live[i])) return false;
    run.n = m->n_scratch;
    for (size_t i = 0; i < n; i++) {
        run = tlm_gmatch_step(m, run, s[i], &partial, &left);
        if (run.n == 0) {
            bool hit_limit = m->failed;
            rollback(m, mark);
            m->n_scratch = 0;
            m->failed = hit_limit;
            return false;
        }
    }
    if (!set_live(m, run)) {
        rollback(m, mark);
        m->n_scratch = 0;
        return false;
    }
    m->n_scratch = 0;
    m->partial = partial;
    m->partial_left = left;
    if (m->n_nodes > 65536) compact(m);
    return true;
}

bool tlm_gmatch_allows(tlm_gmatch *m, const unsigned char *s, size_t n)
{
    if (m->failed) return false;
    int32_t mark = m->n_nodes;
    uint32_t partial = m->partial;
    int32_t left = m->partial_left;
    m->n_scratch = 0;
    tlm_gset_run run = {0, 0};
    for (int32_t i = 0; i < m->n_live; i++)
        if (!scratch_push(m, m->live[i])) return false;
    run.n = m->n_scratch;
    for (size_t i = 0; i < n && run.n > 0; i++)
        run = tlm_gmatch_step(m, run, s[i], &partial, &left);
    bool ok = run.n > 0 && !m->failed;
    rollback(m, mark);
    m->n_scratch = 0;
    m->failed = false;
    return ok;
}

bool tlm_gmatch_can_end(const tlm_gmatch *m)
{
    if (m->failed || m->partial_left != 0) return false;
    for (int32_t i = 0; i < m->n_live; i++)
        if (m->live[i] < 0) return true;
    return false;
}
