/* spm.c - SentencePiece BPE encoding, driven by piece scores.
 *
 * The text is normalised (spaces written as the vocabulary writes them, plus the dummy
 * prefix), cut into UTF-8 characters, and then the adjacent pair whose concatenation is a
 * piece with the highest score is merged, again and again (ties: the leftmost pair), until
 * no pair is a piece. Each remaining span becomes its piece, or else one byte piece per byte
 * (byte fallback), or else the unknown id.
 *
 * Spans live in a doubly linked list over the normalised text; candidate pairs wait in a
 * max-heap. A merge invalidates the heap entries of its two halves lazily: an entry is used
 * only if its pair is still adjacent with the lengths it had when pushed. So a text of n
 * characters costs O(n log n), not a rescan of all pairs per merge. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define U2581 "\xE2\x96\x81"

typedef struct span {
    uint32_t start, len; /* bytes of the normalised text; len 0: merged into its left */
    int32_t prev, next;  /* neighbouring spans, -1 at the ends */
} span;

typedef struct pair {
    float score;         /* of the merged piece */
    int32_t left, right; /* span indices; left < right, and indices follow text order */
    uint32_t len;        /* merged length when pushed: a different length means stale */
} pair;

typedef struct heap {
    pair *a;
    int64_t n, cap;
} heap;

/* Higher score first; on equal scores the leftmost pair, as SentencePiece does. */
static bool before(const pair *x, const pair *y)
{
    return x->score > y->score || (x->score == y->score && x->left < y->left);
}

static bool heap_push(heap *h, pair p)
{
    if (h->n == h->cap) {
        int64_t cap = h->cap ? 2 * h->cap : 256;
        pair *a = realloc(h->a, (size_t)cap * sizeof *a);
        if (!a) return false;
        h->a = a;
        h->cap = cap;
    }
    int64_t i = h->n++;
    while (i > 0 && before(&p, &h->a[(i - 1) / 2])) {
        h->a[i] = h->a[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->a[i] = p;
    return true;
}

static pair heap_pop(heap *h)
{
    pair top = h->a[0], last = h->a[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->a[c + 1], &h->a[c])) c++;
        if (!before(&h->a[c], &last)) break;
        h->a[i] = h->a[c];
        i = c;
    }
    if (h->n > 0) h->a[i] = last;
    return top;
}

/* Bytes of the well-formed UTF-8 character at s (n bytes left), or 0 for a byte that does
 * not start one (a stray continuation, an overlong form, a surrogate, above U+10FFFF, or a
 * sequence cut short). */
static uint32_t utf8_char(const unsigned char *s, uint64_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    uint32_t need = c >= 0xC2 && c <= 0xDF   ? 2
                    : c >= 0xE0 && c <= 0xEF ? 3
                    : c >= 0xF0 && c <= 0xF4 ? 4
                                             : 0;
    if (need == 0 || need > n) return 0;
    /* The second byte's range excludes overlongs (E0, F0), surrogates (ED), > U+10FFFF (F4). */
    unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
    unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi) return 0;
    for (uint32_t i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    return need;
}

/* Bytes of the unit at s: a character, or one byte of ill-formed input. */
static uint32_t utf8_unit(const unsigned char *s, uint64_t n)
{
    uint32_t u = utf8_char(s, n);
    return u ? u : 1;
}

typedef struct encoder {
    const tlm_tokenizer *tok;
    const char *norm;
    span *spans;
    int32_t lo, hi; /* the spans [lo, hi) being merged */
    heap h;
} encoder;

/* Queues spans l and r (adjacent) if their concatenation is a piece. */
static bool try_pair(encoder *e, int32_t l, int32_t r)
{
    if (l < e->lo || r < 0 || r >= e->hi) return true;
    uint32_t len = e->spans[l].len + e->spans[r].len;
    int32_t id = tlm_tokenizer_lookup(e->tok, e->norm + e->spans[l].start, len);
    if (id < 0) return true;
    pair p = {e->tok->scores[id], l, r, len};
    return heap_push(&e->h, p);
}

static void emit(int32_t *ids, int64_t cap, int64_t *n, int32_t id)
{
    if (*n < cap) ids[*n] = id;
    (*n)++;
}

/* The ids of one final span: its piece, else its bytes, else the unknown id (if any). */
static void emit_span(const tlm_tokenizer *tok, const char *s, uint32_t len, int32_t *ids,
                      int64_t cap, int64_t *n)
{
    int32_t id = tlm_tokenizer_lookup(tok, s, len);
    if (id >= 0) {
        emit(ids, cap, n, id);
        return;
    }
    bool all_bytes = true;
    for (uint32_t i = 0; i < len; i++)
        if (tok->byte_id[(unsigned char)s[i]] < 0) all_bytes = false;
    if (all_bytes) {
        for (uint32_t i = 0; i < len; i++)
            emit(ids, cap, n, tok->byte_id[(unsigned char)s[i]]);
    } else if (tok->unk >= 0) {
        emit(ids, cap, n, tok->unk);
    }
    /* else: nothing can stand for this character and it is dropped */
}

static bool is_space(const encoder *e, int32_t i, const char *space, size_t space_len)
{
    const span *s = &e->spans[i];
    return s->len == space_len && memcmp(e->norm + s->start, space, space_len) == 0;
}

/* End of the word starting at span lo: the next space that follows a non-space. */
static int32_t word_end(const encoder *e, int32_t lo, const char *space, size_t space_len,
                        int32_t n_spans)
{
    bool prev_space = is_space(e, lo, space, space_len);
    for (int32_t i = lo + 1; i < n_spans; i++) {
        bool sp = is_space(e, i, space, space_len);
        if (sp && !prev_space) return i;
        prev_space = sp;
    }
    return n_spans;
}

tlm_status tlm_spm_encode(const tlm_tokenizer *tok, const char *text, uint64_t len, int32_t *ids,
                          int64_t cap, int64_t *n_needed)
{
    *n_needed = 0;
    if (len == 0) return TLM_OK; /* no dummy prefix on empty text */

    /* Normalise: every space (and the dummy prefix) as the vocabulary writes a space. */
    const char *space = tok->space_is_u2581 ? U2581 : " ";
    size_t space_len = strlen(space);
    char *norm = malloc((len + 1) * 3); /* a space or an ill-formed byte: 3 bytes at most */
    span *spans = malloc((len + 1) * sizeof *spans); /* at most one per input byte, + prefix */
    encoder e = {tok, norm, spans, 0, 0, {NULL, 0, 0}};
    tlm_status st = TLM_OK;
    if (!norm || !spans) {
        st = TLM_ERR_NO_MEMORY;
        goto done;
    }
    uint64_t n_norm = 0;
    /* SentencePiece's normaliser (remove_extra_whitespaces) drops leading and trailing spaces
     * and squeezes runs to one; then the dummy prefix goes before non-empty text. */
    uint64_t first = 0, end = len;
    if (tok->remove_extra_ws) {
        while (first < len && text[first] == ' ')
            first++;
        while (end > first && text[end - 1] == ' ')
            end--;
        if (first == end) goto done; /* only spaces: nothing */
    }
    if (tok->add_space_prefix) {
        memcpy(norm, space, space_len);
        n_norm += space_len;
    }
    for (uint64_t i = first; i < end; i++) {
        if (text[i] == ' ') {
            if (tok->remove_extra_ws && text[i - 1] == ' ') continue; /* i > first here */
            memcpy(norm + n_norm, space, space_len);
            n_norm += space_len;
        } else if (tok->invalid_utf8_fffd && (unsigned char)text[i] >= 0x80) {
            /* SentencePiece turns each byte of ill-formed UTF-8 into U+FFFD. */
            uint32_t u = utf8_char((const unsigned char *)text + i, end - i);
            if (u == 0) {
                memcpy(norm + n_norm, "\xEF\xBF\xBD", 3);
                n_norm += 3;
            } else {
                memcpy(norm + n_norm, text + i, u);
                n_norm += u;
                i += u - 1;
            }
        } else {
            norm[n_norm++] = text[i];
        }
    }
    if (n_norm == 0) goto done;

    /* One span per character. n_norm < 2^31 (TLM_TOK_MAX_TEXT), so indices fit int32_t. */
    int32_t n_spans = 0;
    for (uint64_t at = 0; at < n_norm;) {
        uint32_t u = utf8_unit((const unsigned char *)norm + at, n_norm - at);
        spans[n_spans] = (span){(uint32_t)at, u, n_spans - 1, n_spans + 1};
        n_spans++;
        at += u;
    }
    spans[n_spans - 1].next = -1;

    /* Merge word by word when no merge can cross a word start (the result is the same as
     * merging the whole text at once, and the heap stays small enough for the cache). */
    int64_t n = 0;
    for (e.lo = 0; e.lo < n_spans; e.lo = e.hi) {
        e.hi = tok->words_independent ? word_end(&e, e.lo, space, space_len, n_spans) : n_spans;
        for (int32_t i = e.lo; i + 1 < e.hi; i++) {
            if (!try_pair(&e, i, i + 1)) {
                st = TLM_ERR_NO_MEMORY;
                goto done;
            }
        }
        while (e.h.n > 0) {
            pair p = heap_pop(&e.h);
            span *l = &spans[p.left], *r = &spans[p.right];
            if (l->len == 0 || l->next != p.right || l->len + r->len != p.len)
                continue; /* stale: one side merged since the pair was queued */
            l->len += r->len;
            l->next = r->next;
            if (r->next >= 0) spans[r->next].prev = p.left;
            r->len = 0;
            if (!try_pair(&e, l->prev, p.left) || !try_pair(&e, p.left, l->next)) {
                st = TLM_ERR_NO_MEMORY;
                goto done;
            }
        }
        for (int32_t i = e.lo; i >= 0 && i < e.hi; i = spans[i].next)
            emit_span(tok, norm + spans[i].start, spans[i].len, ids, cap, &n);
    }
    *n_needed = n;

done:
    free(e.h.a);
    free(spans);
    free(norm);
    return st;
}
