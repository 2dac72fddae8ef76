/* stop.c - stop strings found in generated text across token boundaries.
 *
 * Each stop string has a KMP automaton whose state is how many of its first bytes end the
 * text seen so far. The text that could still become a stop string is exactly the longest of
 * those suffixes (a proper prefix of some string), so the matcher holds back max(state)
 * bytes and emits the rest; every byte fed is stepped once per string. When a string
 * completes, the text stops just before the earliest occurrence that is complete so far.
 * Matching is byte-wise: a UTF-8 character split between feeds is matched like any bytes.
 * Memory: the held bytes (under the longest stop string) plus the latest feed. */
#include <stdlib.h>
#include <string.h>

#include "error.h"

enum { MAX_STRINGS = 64, MAX_LEN = 1024 };

typedef struct stop_string {
    const char *s;
    size_t len;
    size_t *fail; /* [len]: fail[i] = longest proper border of s[0..i] */
    size_t state; /* bytes of s matched at the end of the text (< len) */
} stop_string;

struct tlm_stop_matcher {
    int32_t n;
    stop_string *strs;
    char *buf; /* held bytes at buf + held_at, then (during a feed) the new ones */
    size_t held_at, held, cap;
    bool stopped;
};

TLM_API void tlm_stop_free(tlm_stop_matcher *m)
{
    if (!m) return;
    for (int32_t i = 0; m->strs && i < m->n; i++) {
        free((void *)m->strs[i].s);
        free(m->strs[i].fail);
    }
    free(m->strs);
    free(m->buf);
    free(m);
}

static void build_fail(const char *s, size_t len, size_t *fail)
{
    fail[0] = 0;
    size_t k = 0;
    for (size_t i = 1; i < len; i++) {
        while (k > 0 && s[i] != s[k])
            k = fail[k - 1];
        if (s[i] == s[k]) k++;
        fail[i] = k;
    }
}

TLM_API tlm_status tlm_stop_create(const char *const *strs, int32_t n, tlm_stop_matcher **out,
                                   tlm_error *err)
{
    if (out) *out = NULL;
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_stop_create: out must not be NULL");
    if (n < 0 || n > MAX_STRINGS || (n > 0 && !strs))
        return tlm_fail(err, TLM_ERR_ARG, "stop strings: %d given, at most %d (and not NULL)",
                        (int)n, MAX_STRINGS);
    for (int32_t i = 0; i < n; i++) {
        size_t len = strs[i] ? strnlen(strs[i], MAX_LEN + 1) : 0;
        if (len == 0 || len > MAX_LEN)
            return tlm_fail(err, TLM_ERR_ARG,
                            "stop string %d: must be non-empty and at most %d bytes", (int)i,
                            MAX_LEN);
    }
    tlm_stop_matcher *m = calloc(1, sizeof *m);
    if (!m) return tlm_fail(err, TLM_ERR_NO_MEMORY, "stop strings: no memory");
    m->strs = calloc(n > 0 ? (size_t)n : 1, sizeof *m->strs);
    bool ok = m->strs != NULL;
    for (int32_t i = 0; ok && i < n; i++) {
        stop_string *t = &m->strs[i];
        m->n = i + 1;
        t->len = strlen(strs[i]);
        t->s = strdup(strs[i]);
        t->fail = malloc(t->len * sizeof *t->fail);
        ok = t->s && t->fail;
        if (ok) build_fail(t->s, t->len, t->fail);
    }
    if (!ok) {
        tlm_stop_free(m);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "stop strings: no memory");
    }
    *out = m;
    return TLM_OK;
}

TLM_API void tlm_stop_reset(tlm_stop_matcher *m)
{
    if (!m) return;
    for (int32_t i = 0; i < m->n; i++)
        m->strs[i].state = 0;
    m->held_at = m->held = 0;
    m->stopped = false;
}

/* Steps t's automaton over b[from, to); returns the index just past the first complete
 * occurrence, or 0 when none completes (t->state then describes b[.., to)). */
static size_t step(stop_string *t, const char *b, size_t from, size_t to)
{
    size_t q = t->state;
    for (size_t j = from; j < to; j++) {
        while (q > 0 && b[j] != t->s[q])
            q = t->fail[q - 1];
        if (b[j] == t->s[q]) q++;
        if (q == t->len) return j + 1;
    }
    t->state = q;
    return 0;
}

TLM_API bool tlm_stop_feed(tlm_stop_matcher *m, const char *text, size_t len, const char **emit,
                           size_t *n_emit)
{
    static const char none[1] = "";
    *emit = none;
    *n_emit = 0;
    if (!m) return false;
    if (m->stopped) return true;
    if (!text) len = 0;
    /* the text emitted last time may be read until this call: only now move the held bytes */
    if (m->held) memmove(m->buf, m->buf + m->held_at, m->held);
    m->held_at = 0;
    size_t total = m->held + len;
    if (total > m->cap) {
        size_t cap = m->cap * 2 > total ? m->cap * 2 : total;
        char *b = realloc(m->buf, cap);
        if (!b) { /* cannot hold the text: end the generation rather than miss a stop */
            m->stopped = true;
            return true;
        }
        m->buf = b;
        m->cap = cap;
    }
    if (len) memcpy(m->buf + m->held, text, len);

    size_t first = (size_t)-1, keep = 0;
    for (int32_t i = 0; i < m->n; i++) {
        stop_string *t = &m->strs[i];
        size_t end = step(t, m->buf, m->held, total);
        if (end && end - t->len < first) first = end - t->len;
        if (!end && t->state > keep) keep = t->state;
    }
    if (m->buf) *emit = m->buf;
    if (first != (size_t)-1) {
        m->stopped = true;
        m->held = 0;
        *n_emit = first;
        return true;
    }
    *n_emit = total - keep;
    m->held_at = total - keep;
    m->held = keep;
    return false;
}

TLM_API void tlm_stop_flush(tlm_stop_matcher *m, const char **emit, size_t *n_emit)
{
    static const char none[1] = "";
    *emit = none;
    *n_emit = 0;
    if (!m || m->stopped || !m->held) return;
    *emit = m->buf + m->held_at;
    *n_emit = m->held;
    for (int32_t i = 0; i < m->n; i++)
        m->strs[i].state = 0;
    m->held_at += m->held; /* nothing held; the flushed text stays readable until the next call */
    m->held = 0;
}
