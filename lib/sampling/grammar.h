/* grammar.h - the compiled form of a GBNF grammar (grammar_parse.c) and the stack-set matcher
 * over it (grammar.c, grammar_mask.c). docs/grammar.md describes the format and the choices. */
#ifndef TLM_GRAMMAR_H
#define TLM_GRAMMAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinylm.h"

/* One element of a rule body. A rule is its alternatives, each ended by ALT except the last,
 * which is ended by END. A character set is CHAR or CHAR_NOT, then any number of RNG_UPPER
 * (closing a range with the code point before) and CHAR_ALT (another code point or range
 * start). Repetitions are expanded into generated rules at parse time, so the matcher only
 * knows sequences, alternatives, rule references and character sets. */
typedef enum {
    TLM_GE_END = 0,
    TLM_GE_ALT,
    TLM_GE_RULE_REF,
    TLM_GE_CHAR,
    TLM_GE_CHAR_NOT,
    TLM_GE_RNG_UPPER,
    TLM_GE_CHAR_ALT,
    TLM_GE_CHAR_ANY,
} tlm_gelem_type;

typedef struct tlm_gelem {
    uint32_t type;  /* tlm_gelem_type */
    uint32_t value; /* code point, or rule id for RULE_REF */
} tlm_gelem;

struct tlm_grammar {
    tlm_gelem *el; /* every rule's body, back to back */
    int32_t n_el;
    int32_t *rule_at; /* [n_rules] index of each rule's first element */
    int32_t n_rules;
    int32_t root; /* rule id */
    char **names; /* [n_rules] for messages (generated rules are "name_N") */
};

/* Limits that keep a hostile grammar from taking unbounded memory or time. */
#define TLM_GRAMMAR_MAX_TEXT (1u << 24) /* bytes of GBNF */
#define TLM_GRAMMAR_MAX_ELEMS (1 << 22) /* elements after expansion */
#define TLM_GRAMMAR_MAX_REPEAT 100000   /* m and n in {m,n} */
#define TLM_GRAMMAR_MAX_NEST 256        /* nested parentheses */

static inline bool tlm_gelem_is_char(uint32_t t)
{
    return t == TLM_GE_CHAR || t == TLM_GE_CHAR_NOT || t == TLM_GE_CHAR_ANY;
}

static inline bool tlm_gelem_is_end(uint32_t t) { return t == TLM_GE_END || t == TLM_GE_ALT; }

/* Whether code point c matches the character set starting at el (a CHAR / CHAR_NOT /
 * CHAR_ANY element); *next gets the element after the set. */
bool tlm_gset_match(const tlm_gelem *el, uint32_t c, const tlm_gelem **next);
/* Whether some code point in [lo, hi] matches the set at el. */
bool tlm_gset_match_range(const tlm_gelem *el, uint32_t lo, uint32_t hi);

/* ---- the matcher -------------------------------------------------------------------- */

/* A stack is a node id in a hash-consed table of (element position, parent) pairs, so equal
 * stacks have equal ids and sharing prefixes costs nothing; -1 is the empty stack (the root
 * rule is complete). Each live stack's top is a character set. */
typedef struct tlm_gnode {
    int32_t pos;
    int32_t parent;
} tlm_gnode;

typedef struct tlm_gmatch {
    const struct tlm_grammar *g;
    tlm_gnode *nodes;
    int32_t *slot_of; /* [cap] the hash slot of each node, for rollback */
    uint32_t *stamp;  /* [cap] set-membership stamps for dedup */
    int32_t n_nodes, cap;
    int32_t *hash;    /* open addressing, -1 empty */
    int32_t hash_cap; /* power of two */
    uint32_t serial;
    /* the live stacks and the bytes of an unfinished UTF-8 character */
    int32_t *live;
    int32_t n_live, live_cap;
    uint32_t partial;     /* code point bits so far */
    int32_t partial_left; /* continuation bytes still due (0: none) */
    bool failed;          /* a limit was hit: nothing is allowed any more */
    /* scratch for building stack sets */
    int32_t *scratch;
    int32_t n_scratch, scratch_cap;
} tlm_gmatch;

tlm_status tlm_gmatch_init(tlm_gmatch *m, const struct tlm_grammar *g);
void tlm_gmatch_free(tlm_gmatch *m);
tlm_status tlm_gmatch_reset(tlm_gmatch *m);
/* Advances over bytes; false (state unchanged) if they cannot continue the grammar. */
bool tlm_gmatch_accept(tlm_gmatch *m, const unsigned char *s, size_t n);
/* Whether the bytes could be accepted now (nothing changes). */
bool tlm_gmatch_allows(tlm_gmatch *m, const unsigned char *s, size_t n);
/* Whether the grammar may end here (an empty stack is live and no character is unfinished). */
bool tlm_gmatch_can_end(const tlm_gmatch *m);

/* The set-building primitives grammar_mask.c walks the token trie with. A set is a run of
 * m->scratch; out-of-memory or a limit sets m->failed. */
typedef struct tlm_gset_run {
    int32_t at, n;
} tlm_gset_run;
/* Appends to the scratch the stacks that `set` becomes after byte b, given the unfinished
 * character (*partial, *left), which it updates. Returns the new run (n 0: dead). */
tlm_gset_run tlm_gmatch_step(tlm_gmatch *m, tlm_gset_run set, unsigned char b, uint32_t *partial,
                             int32_t *left);

#endif
