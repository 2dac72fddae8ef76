/* grammar_parse.c - llama.cpp's GBNF text to the element arrays of grammar.h.
 *
 *   rule     ::= name "::=" alternates (newline | end)
 *   alternates ::= sequence ("|" sequence)*
 *   item     ::= "literal" | [class] | [^class] | . | name | ( alternates )
 *                followed by at most one of * + ? {m} {m,} {m,n}
 * Comments run from # to the end of the line. Inside parentheses and after "::=" or "|" a
 * rule may continue on the next line; elsewhere a newline ends it. Repetitions become
 * generated rules (S{2,4} is S S R2 with R2 ::= S R1 | ""; S* is R with R ::= S R | ""), so
 * the matcher never sees a count. Errors give the line and column of the offending byte;
 * sizes and nesting are bounded (grammar.h). After parsing, every referenced rule must be
 * defined and no rule may start with itself (left recursion would make the matcher's
 * expansion endless). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "grammar.h"

typedef struct rule_buf {
    tlm_gelem *el;
    int32_t n, cap;
    bool defined;
    size_t first_ref; /* byte offset of the first reference, for "undefined rule" */
    char *name;
} rule_buf;

typedef struct parser {
    const char *src;
    size_t len, pos;
    rule_buf *rules;
    int32_t n_rules, cap_rules;
    int64_t n_total; /* elements over all rules, against TLM_GRAMMAR_MAX_ELEMS */
    int depth;
    tlm_error *err;
    tlm_status st; /* first failure, TLM_OK while none */
} parser;

static void where(const parser *p, size_t at, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        if (p->src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

static bool failf(parser *p, size_t at, const char *fmt, ...) TLM_PRINTF(3, 4);
static bool failf(parser *p, size_t at, const char *fmt, ...)
{
    if (p->st != TLM_OK) return false;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int line, col;
    where(p, at, &line, &col);
    p->st = tlm_fail(p->err, TLM_ERR_FORMAT, "grammar line %d, column %d: %s", line, col, msg);
    return false;
}

static bool no_memory(parser *p)
{
    if (p->st == TLM_OK) p->st = tlm_fail(p->err, TLM_ERR_NO_MEMORY, "grammar: no memory");
    return false;
}

static bool push(parser *p, int32_t rule, uint32_t type, uint32_t value)
{
    rule_buf *r = &p->rules[rule];
    if (++p->n_total > TLM_GRAMMAR_MAX_ELEMS)
        return failf(p, p->pos,
                     "grammar too large (over %d elements after expanding "
                     "repetitions)",
                     TLM_GRAMMAR_MAX_ELEMS);
    if (r->n == r->cap) {
        int32_t cap = r->cap ? 2 * r->cap : 16;
        tlm_gelem *el = realloc(r->el, (size_t)cap * sizeof *el);
        if (!el) return no_memory(p);
        r->el = el;
        r->cap = cap;
    }
    r->el[r->n++] = (tlm_gelem){type, value};
    return true;
}

static int32_t add_rule(parser *p, const char *name, size_t n)
{
    if (p->n_rules == p->cap_rules) {
        int32_t cap = p->cap_rules ? 2 * p->cap_rules : 32;
        rule_buf *r = realloc(p->rules, (size_t)cap * sizeof *r);
        if (!r) return no_memory(p), -1;
        p->rules = r;
        p->cap_rules = cap;
    }
    rule_buf *r = &p->rules[p->n_rules];
    memset(r, 0, sizeof *r);
    r->name = malloc(n + 1);
    if (!r->name) return no_memory(p), -1;
    memcpy(r->name, name, n);
    r->name[n] = '\0';
    r->first_ref = (size_t)-1;
    return p->n_rules++;
}

static int32_t find_rule(parser *p, const char *name, size_t n)
{
    for (int32_t i = 0; i < p->n_rules; i++)
        if (strlen(p->rules[i].name) == n && memcmp(p->rules[i].name, name, n) == 0) return i;
    return add_rule(p, name, n);
}

/* A rule for a group or a repetition: named after the rule it serves, as llama.cpp does. */
static int32_t new_rule(parser *p, int32_t parent)
{
    char name[96];
    int n = snprintf(name, sizeof name, "%.60s_%d", p->rules[parent].name, (int)p->n_rules);
    int32_t id = add_rule(p, name, (size_t)n);
    if (id >= 0) p->rules[id].defined = true;
    return id;
}

static bool is_word(int c) { return isalnum(c) || c == '-' || c == '_'; }

static int peek(const parser *p) { return p->pos < p->len ? (unsigned char)p->src[p->pos] : -1; }

static void skip_space(parser *p, bool newline_ok)
{
    while (p->pos < p->len) {
        char c = p->src[p->pos];
        if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newline_ok)) {
            p->pos++;
        } else if (c == '#') {
            while (p->pos < p->len && p->src[p->pos] != '\n' && p->src[p->pos] != '\r')
                p->pos++;
        } else {
            break;
        }
    }
}

static bool hex_digits(parser *p, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        int c = peek(p);
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return failf(p, p->pos, "expected %d hex digits in escape", n);
        v = v * 16 + (uint32_t)d;
        p->pos++;
    }
    *out = v;
    return true;
}

/* One character of a literal or class: an escape or one UTF-8 encoded code point. */
static bool parse_char(parser *p, uint32_t *out)
{
    size_t at = p->pos;
    int c = peek(p);
    if (c < 0) return failf(p, at, "unexpected end of grammar");
    if (c == '\\') {
        p->pos++;
        int e = peek(p);
        p->pos++;
        switch (e) {
        case 'x':
            if (!hex_digits(p, 2, out)) return false;
            break;
        case 'u':
            if (!hex_digits(p, 4, out)) return false;
            break;
        case 'U':
            if (!hex_digits(p, 8, out)) return false;
            break;
        case 'n':
            *out = '\n';
            break;
        case 't':
            *out = '\t';
            break;
        case 'r':
            *out = '\r';
            break;
        case '\\':
        case '"':
        case '[':
        case ']':
        case '-':
        case '/':
        case '\'':
        case '^':
            *out = (uint32_t)e;
            break;
        default:
            if (e < 0) return failf(p, at, "unexpected end of grammar after '\\'");
            return failf(p, at, "unknown escape '\\%c'", e);
        }
        if (*out > 0x10FFFF) return failf(p, at, "code point U+%X is past U+10FFFF", *out);
        return true;
    }
    /* UTF-8: the lead byte says how many continuation bytes follow */
    unsigned char b = (unsigned char)c;
    int more = b < 0x80             ? 0
               : (b & 0xE0) == 0xC0 ? 1
               : (b & 0xF0) == 0xE0 ? 2
               : (b & 0xF8) == 0xF0 ? 3
                                    : -1;
    if (more < 0) return failf(p, at, "invalid UTF-8 byte 0x%02X", b);
    uint32_t v = more == 0 ? b : more == 1 ? b & 0x1Fu : more == 2 ? b & 0x0Fu : b & 0x07u;
    p->pos++;
    for (int i = 0; i < more; i++) {
        int cb = peek(p);
        if (cb < 0 || (cb & 0xC0) != 0x80) return failf(p, at, "truncated UTF-8 sequence");
        v = (v << 6) | ((uint32_t)cb & 0x3F);
        p->pos++;
    }
    *out = v;
    return true;
}

static bool parse_alternates(parser *p, int32_t rule, bool nested);

/* {m}, {m,}, {m,n}: *m and *n (-1 for unbounded) */
static bool parse_braces(parser *p, int64_t *m, int64_t *n)
{
    size_t at = p->pos;
    p->pos++; /* '{' */
    skip_space(p, true);
    int64_t v[2] = {-1, -1};
    for (int k = 0; k < 2; k++) {
        if (isdigit(peek(p))) {
            int64_t x = 0;
            while (isdigit(peek(p))) {
                x = x * 10 + (peek(p) - '0');
                if (x > TLM_GRAMMAR_MAX_REPEAT)
                    return failf(p, at, "repetition count over %d", TLM_GRAMMAR_MAX_REPEAT);
                p->pos++;
            }
            v[k] = x;
        } else if (k == 0) {
            return failf(p, p->pos, "expected a number after '{'");
        }
        skip_space(p, true);
        if (k == 0) {
            if (peek(p) == '}') {
                p->pos++;
                *m = *n = v[0];
                return true;
            }
            if (peek(p) != ',') return failf(p, p->pos, "expected ',' or '}' in repetition");
            p->pos++;
            skip_space(p, true);
        }
    }
    if (peek(p) != '}') return failf(p, p->pos, "expected '}' to close repetition");
    p->pos++;
    *m = v[0];
    *n = v[1];
    if (*n >= 0 && *n < *m)
        return failf(p, at, "repetition {%lld,%lld}: max below min", (long long)*m, (long long)*n);
    return true;
}

/* Replaces the item el[start..] of `rule` by its repetition {m,n} (n -1: unbounded). */
static bool repeat(parser *p, int32_t rule, int32_t start, int64_t m, int64_t n)
{
    rule_buf *r = &p->rules[rule];
    uint32_t sub;
    if (r->n - start == 1 && r->el[start].type == TLM_GE_RULE_REF) {
        sub = r->el[start].value;
    } else { /* the item into a rule of its own, so it is one reference below */
        int32_t id = new_rule(p, rule);
        if (id < 0) return false;
        r = &p->rules[rule]; /* add_rule may have moved the array */
        for (int32_t i = start; i < r->n; i++) {
            if (!push(p, id, r->el[i].type, r->el[i].value)) return false;
            r = &p->rules[rule];
        }
        if (!push(p, id, TLM_GE_END, 0)) return false;
        sub = (uint32_t)id;
    }
    p->n_total -= p->rules[rule].n - start;
    p->rules[rule].n = start;
    for (int64_t i = 0; i < m; i++)
        if (!push(p, rule, TLM_GE_RULE_REF, sub)) return false;
    if (n == m) return true;
    int32_t tail;
    if (n < 0) { /* R ::= S R | "" */
        tail = new_rule(p, rule);
        if (tail < 0 || !push(p, tail, TLM_GE_RULE_REF, sub) ||
            !push(p, tail, TLM_GE_RULE_REF, (uint32_t)tail) || !push(p, tail, TLM_GE_ALT, 0) ||
            !push(p, tail, TLM_GE_END, 0))
            return false;
    } else { /* R1 ::= S | "";  Rk ::= S R(k-1) | "" */
        tail = -1;
        for (int64_t k = 0; k < n - m; k++) {
            int32_t id = new_rule(p, rule);
            if (id < 0 || !push(p, id, TLM_GE_RULE_REF, sub)) return false;
            if (tail >= 0 && !push(p, id, TLM_GE_RULE_REF, (uint32_t)tail)) return false;
            if (!push(p, id, TLM_GE_ALT, 0) || !push(p, id, TLM_GE_END, 0)) return false;
            tail = id;
        }
    }
    return push(p, rule, TLM_GE_RULE_REF, (uint32_t)tail);
}

static bool parse_sequence(parser *p, int32_t rule, bool nested)
{
    for (;;) {
        int32_t start = p->rules[rule].n;
        int c = peek(p);
        size_t at = p->pos;
        if (c == '"') {
            p->pos++;
            while (peek(p) != '"') {
                if (peek(p) < 0) return failf(p, at, "unterminated string literal");
                uint32_t cp;
                if (!parse_char(p, &cp) || !push(p, rule, TLM_GE_CHAR, cp)) return false;
            }
            p->pos++;
            if (p->rules[rule].n == start) { /* "" matches nothing: no item to repeat */
                skip_space(p, nested);
                continue;
            }
        } else if (c == '[') {
            p->pos++;
            uint32_t first = TLM_GE_CHAR;
            if (peek(p) == '^') {
                p->pos++;
                first = TLM_GE_CHAR_NOT;
            }
            while (peek(p) != ']') {
                if (peek(p) < 0) return failf(p, at, "unterminated character class");
                uint32_t lo, hi;
                if (!parse_char(p, &lo)) return false;
                uint32_t t = p->rules[rule].n == start ? first : TLM_GE_CHAR_ALT;
                if (!push(p, rule, t, lo)) return false;
                if (peek(p) == '-' && p->pos + 1 < p->len && p->src[p->pos + 1] != ']' &&
                    p->src[p->pos + 1] != '\n' && p->src[p->pos + 1] != '\r') {
                    size_t rat = p->pos;
                    p->pos++;
                    if (!parse_char(p, &hi)) return false;
                    if (hi < lo)
                        return failf(p, rat, "character range U+%X-U+%X is backwards", lo, hi);
                    if (!push(p, rule, TLM_GE_RNG_UPPER, hi)) return false;
                }
            }
            p->pos++;
            if (p->rules[rule].n == start) {
                if (first == TLM_GE_CHAR) return failf(p, at, "empty character class");
                if (!push(p, rule, TLM_GE_CHAR_ANY, 0)) return false; /* [^] is any */
            }
        } else if (c == '.') {
            p->pos++;
            if (!push(p, rule, TLM_GE_CHAR_ANY, 0)) return false;
        } else if (c == '(') {
            p->pos++;
            if (++p->depth > TLM_GRAMMAR_MAX_NEST)
                return failf(p, at, "parentheses nested over %d deep", TLM_GRAMMAR_MAX_NEST);
            int32_t id = new_rule(p, rule);
            if (id < 0) return false;
            skip_space(p, true);
            if (!parse_alternates(p, id, true)) return false;
            if (peek(p) != ')')
                return failf(p, p->pos,
                             "expected ')' to close '(' opened at "
                             "byte %zu",
                             at + 1);
            p->pos++;
            p->depth--;
            if (!push(p, rule, TLM_GE_RULE_REF, (uint32_t)id)) return false;
        } else if (c >= 0 && is_word(c)) {
            size_t n = 0;
            while (p->pos + n < p->len && is_word((unsigned char)p->src[p->pos + n]))
                n++;
            int32_t id = find_rule(p, p->src + p->pos, n);
            if (id < 0) return false;
            if (p->rules[id].first_ref == (size_t)-1) p->rules[id].first_ref = p->pos;
            p->pos += n;
            if (!push(p, rule, TLM_GE_RULE_REF, (uint32_t)id)) return false;
        } else {
            return true; /* not an item: the caller decides what may follow */
        }
        skip_space(p, nested);
        c = peek(p);
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            int64_t m = c == '+' ? 1 : 0, n = c == '?' ? 1 : -1;
            if (c == '{') {
                if (!parse_braces(p, &m, &n)) return false;
            } else {
                p->pos++;
            }
            if (!repeat(p, rule, start, m, n)) return false;
            skip_space(p, nested);
        }
    }
}

static bool parse_alternates(parser *p, int32_t rule, bool nested)
{
    if (!parse_sequence(p, rule, nested)) return false;
    while (peek(p) == '|') {
        p->pos++;
        skip_space(p, true);
        if (!push(p, rule, TLM_GE_ALT, 0) || !parse_sequence(p, rule, nested)) return false;
    }
    return push(p, rule, TLM_GE_END, 0);
}

static bool parse_rule(parser *p)
{
    size_t at = p->pos;
    size_t n = 0;
    while (p->pos + n < p->len && is_word((unsigned char)p->src[p->pos + n]))
        n++;
    if (n == 0) {
        int c = peek(p);
        return failf(p, at,
                     isprint(c) ? "expected a rule name, found '%c'"
                                : "expected a rule name, found byte 0x%02X",
                     c);
    }
    int32_t id = find_rule(p, p->src + p->pos, n);
    if (id < 0) return false;
    if (p->rules[id].defined) return failf(p, at, "rule '%s' is defined twice", p->rules[id].name);
    p->rules[id].defined = true;
    p->pos += n;
    skip_space(p, false);
    if (p->len - p->pos < 3 || memcmp(p->src + p->pos, "::=", 3) != 0)
        return failf(p, p->pos, "expected '::=' after rule name '%s'", p->rules[id].name);
    p->pos += 3;
    skip_space(p, true);
    if (!parse_alternates(p, id, false)) return false;
    int c = peek(p);
    if (c >= 0 && c != '\n' && c != '\r') {
        if (c == ')') return failf(p, p->pos, "unexpected ')' with no '(' open");
        return failf(p, p->pos,
                     isprint(c) ? "unexpected '%c' in rule '%s'"
                                : "unexpected byte 0x%02X in rule '%s'",
                     c, p->rules[id].name);
    }
    return true;
}

/* ---- checks after parsing ---------------------------------------------------------- */

/* nullable[r]: rule r can match the empty string. Iterated to a fixed point. */
static void find_nullable(const parser *p, bool *nullable)
{
    for (bool changed = true; changed;) {
        changed = false;
        for (int32_t r = 0; r < p->n_rules; r++) {
            if (nullable[r]) continue;
            const tlm_gelem *el = p->rules[r].el;
            bool ok = true;
            for (int32_t i = 0; i < p->rules[r].n; i++) {
                uint32_t t = el[i].type;
                if (tlm_gelem_is_end(t)) {
                    if (ok || t == TLM_GE_END) break;
                    ok = true;
                } else if (t == TLM_GE_RULE_REF) {
                    ok = ok && nullable[el[i].value];
                } else {
                    ok = false;
                }
            }
            if (ok) {
                nullable[r] = true;
                changed = true;
            }
        }
    }
}

/* Depth-first over "can start with" edges; color 1 = on the path, 2 = done. */
static bool left_rec(parser *p, const bool *nullable, uint8_t *color, int32_t r, int depth)
{
    if (color[r] == 2) return true;
    if (color[r] == 1 || depth > 100000)
        return failf(p, p->rules[r].first_ref == (size_t)-1 ? 0 : p->rules[r].first_ref,
                     "rule '%s' is left-recursive (it can begin with itself); rewrite it "
                     "with a repetition",
                     p->rules[r].name);
    color[r] = 1;
    const tlm_gelem *el = p->rules[r].el;
    bool at_start = true;
    for (int32_t i = 0; i < p->rules[r].n; i++) {
        uint32_t t = el[i].type;
        if (tlm_gelem_is_end(t)) {
            at_start = true;
        } else if (!at_start) {
            continue;
        } else if (t == TLM_GE_RULE_REF) {
            if (!left_rec(p, nullable, color, (int32_t)el[i].value, depth + 1)) return false;
            at_start = nullable[el[i].value];
        } else {
            at_start = false;
        }
    }
    color[r] = 2;
    return true;
}

static void free_parser(parser *p)
{
    for (int32_t i = 0; i < p->n_rules; i++) {
        free(p->rules[i].el);
        free(p->rules[i].name);
    }
    free(p->rules);
}

TLM_API void tlm_grammar_free(tlm_grammar *g)
{
    if (!g) return;
    if (g->names)
        for (int32_t i = 0; i < g->n_rules; i++)
            free(g->names[i]);
    free(g->names);
    free(g->el);
    free(g->rule_at);
    free(g);
}

static tlm_status finish(parser *p, const char *root, tlm_grammar **out)
{
    for (int32_t r = 0; r < p->n_rules; r++)
        if (!p->rules[r].defined)
            return failf(p, p->rules[r].first_ref, "undefined rule '%s'", p->rules[r].name), p->st;
    int32_t root_id = -1;
    for (int32_t r = 0; r < p->n_rules; r++)
        if (strcmp(p->rules[r].name, root) == 0) root_id = r;
    if (root_id < 0)
        return tlm_fail(p->err, TLM_ERR_FORMAT, "grammar: no rule named '%s' (the root)", root);

    bool *nullable = calloc((size_t)p->n_rules, sizeof *nullable);
    uint8_t *color = calloc((size_t)p->n_rules, 1);
    bool ok = nullable && color;
    if (ok) {
        find_nullable(p, nullable);
        for (int32_t r = 0; r < p->n_rules && ok; r++)
            ok = left_rec(p, nullable, color, r, 0);
    } else {
        no_memory(p);
    }
    free(nullable);
    free(color);
    if (!ok) return p->st;

    tlm_grammar *g = calloc(1, sizeof *g);
    if (!g) return no_memory(p), p->st;
    g->n_rules = p->n_rules;
    g->n_el = (int32_t)p->n_total;
    g->root = root_id;
    g->el = malloc((size_t)(g->n_el + 1) * sizeof *g->el);
    g->rule_at = malloc((size_t)g->n_rules * sizeof *g->rule_at);
    g->names = calloc((size_t)g->n_rules, sizeof *g->names);
    if (!g->el || !g->rule_at || !g->names) {
        tlm_grammar_free(g);
        return no_memory(p), p->st;
    }
    int32_t at = 0;
    for (int32_t r = 0; r < p->n_rules; r++) {
        g->rule_at[r] = at;
        memcpy(g->el + at, p->rules[r].el, (size_t)p->rules[r].n * sizeof *g->el);
        at += p->rules[r].n;
        g->names[r] = p->rules[r].name;
        p->rules[r].name = NULL; /* moved */
    }
    g->el[at] = (tlm_gelem){TLM_GE_END, 0};
    *out = g;
    return TLM_OK;
}

TLM_API tlm_status tlm_grammar_parse(const char *text, const char *root, tlm_grammar **out,
                                     tlm_error *err)
{
    if (out) *out = NULL;
    if (!text || !out)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_grammar_parse: text and out must not be NULL");
    size_t len = strnlen(text, (size_t)TLM_GRAMMAR_MAX_TEXT + 1);
    if (len > TLM_GRAMMAR_MAX_TEXT)
        return tlm_fail(err, TLM_ERR_ARG, "grammar: text over %u bytes", TLM_GRAMMAR_MAX_TEXT);
    parser p = {.src = text, .len = len, .err = err, .st = TLM_OK};
    for (;;) {
        skip_space(&p, true);
        if (p.pos >= p.len) break;
        if (!parse_rule(&p)) break;
    }
    if (p.st == TLM_OK && p.n_rules == 0) p.st = tlm_fail(err, TLM_ERR_FORMAT, "grammar: no rules");
    if (p.st == TLM_OK) p.st = finish(&p, root ? root : "root", out);
    tlm_status st = p.st;
    free_parser(&p);
    return st;
}
