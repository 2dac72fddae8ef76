/* bpe.c - byte-level BPE encoding, driven by merge ranks.
 *
 * The text (NFC-normalised when the vocabulary asks for it) is cut into pre-tokens by the
 * vocabulary's regex; each pre-token starts as one piece per byte, and the adjacent pair with
 * the lowest merge rank is merged (ties: the leftmost pair), again and again, until no pair
 * has a merge. With ignore_merges (tiktoken) a pre-token that is itself a piece is emitted
 * whole first, as tiktoken does.
 *
 * As in the SentencePiece encoder, symbols form a linked list and candidate pairs wait in a
 * min-heap that is invalidated lazily: an entry is used only while both of its symbols still
 * carry the ids it was queued with. A pre-token of n bytes costs O(n log n). */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

typedef struct sym {
    int32_t id;         /* -1: a byte with no piece; -2: merged into its left neighbour */
    int32_t prev, next; /* neighbouring symbols, -1 at the ends */
} sym;

typedef struct cand {
    int32_t rank;
    int32_t left, right;       /* symbol indices, left < right */
    int32_t left_id, right_id; /* ids when queued: different now means stale */
    int32_t merged;
} cand;

typedef struct encoder {
    const tlm_tokenizer *tok;
    const char *text;
    tlm_id_sink *out;
    sym *syms;
    int64_t syms_cap;
    cand *heap;
    int64_t n_heap, heap_cap;
    tlm_status st;
} encoder;

/* Lower rank first; on equal ranks the leftmost pair. */
static bool before(const cand *x, const cand *y)
{
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

static bool heap_push(encoder *e, cand c)
{
    if (e->n_heap == e->heap_cap) {
        int64_t cap = e->heap_cap ? 2 * e->heap_cap : 64;
        cand *h = realloc(e->heap, (size_t)cap * sizeof *h);
        if (!h) return false;
        e->heap = h;
        e->heap_cap = cap;
    }
    int64_t i = e->n_heap++;
    while (i > 0 && before(&c, &e->heap[(i - 1) / 2])) {
        e->heap[i] = e->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    e->heap[i] = c;
    return true;
}

static cand heap_pop(encoder *e)
{
    cand top = e->heap[0], last = e->heap[--e->n_heap];
    int64_t i = 0;
    for (;;) {
        int64_t c = 2 * i + 1;
        if (c >= e->n_heap) break;
        if (c + 1 < e->n_heap && before(&e->heap[c + 1], &e->heap[c])) c++;
        if (!before(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (e->n_heap > 0) e->heap[i] = last;
    return top;
}

/* Queues symbols l and r (adjacent) if their pair has a merge. */
static bool try_pair(encoder *e, int32_t l, int32_t r)
{
    if (l < 0 || r < 0 || e->syms[l].id < 0 || e->syms[r].id < 0) return true;
    const tlm_bpe_merge *m = tlm_bpe_merge_find(e->tok, e->syms[l].id, e->syms[r].id);
    if (!m) return true;
    cand c = {m->rank, l, r, m->left, m->right, m->merged};
    return heap_push(e, c);
}

static void encode_word(encoder *e, const char *w, uint64_t n)
{
    const tlm_tokenizer *tok = e->tok;
    if (tok->ignore_merges && n > 1) {
        int32_t id = tlm_tokenizer_lookup(tok, w, n);
        if (id >= 0) {
            tlm_sink_push(e->out, id);
            return;
        }
    }
    if ((int64_t)n > e->syms_cap) {
        sym *s = realloc(e->syms, n * sizeof *s);
        if (!s) {
            e->st = TLM_ERR_NO_MEMORY;
            return;
        }
        e->syms = s;
        e->syms_cap = (int64_t)n;
    }
    /* n <= TLM_TOK_MAX_TEXT * 3 < 2^31: indices fit int32_t. */
    int32_t len = (int32_t)n;
    for (int32_t i = 0; i < len; i++)
        e->syms[i] = (sym){tok->byte_id[(unsigned char)w[i]], i - 1, i + 1 < len ? i + 1 : -1};
    e->n_heap = 0;
    for (int32_t i = 0; i + 1 < len; i++) {
        if (!try_pair(e, i, i + 1)) {
            e->st = TLM_ERR_NO_MEMORY;
            return;
        }
    }
    while (e->n_heap > 0) {
        cand c = heap_pop(e);
        sym *l = &e->syms[c.left], *r = &e->syms[c.right];
        if (l->id != c.left_id || r->id != c.right_id || l->next != c.right) continue; /* stale */
        l->id = c.merged;
        l->next = r->next;
        if (r->next >= 0) e->syms[r->next].prev = c.left;
        r->id = -2;
        if (!try_pair(e, l->prev, c.left) || !try_pair(e, c.left, l->next)) {
            e->st = TLM_ERR_NO_MEMORY;
            return;
        }
    }
    for (int32_t i = 0; i >= 0; i = e->syms[i].next) {
        int32_t id = e->syms[i].id;
        if (id >= 0)
            tlm_sink_push(e->out, id);
        else if (tok->unk >= 0) /* a byte no piece stands for (never in a full byte vocabulary) */
            tlm_sink_push(e->out, tok->unk);
    }
}

static bool on_pretoken(void *ctx, uint64_t start, uint64_t end)
{
    encoder *e = ctx;
    encode_word(e, e->text + start, end - start);
    return e->st == TLM_OK;
}

static bool all_ascii(const char *s, uint64_t len)
{
    for (uint64_t i = 0; i < len; i++)
        if ((unsigned char)s[i] >= 0x80) return false;
    return true;
}

tlm_status tlm_bpe_encode(const tlm_tokenizer *tok, const char *text, uint64_t len,
                          tlm_id_sink *out)
{
    char *own = NULL;
    tlm_status st = TLM_OK;
    if (tok->nfc && !all_ascii(text, len)) { /* ASCII is always NFC */
        uint64_t n;
        st = tlm_utf8_nfc(text, len, &own, &n);
        if (st != TLM_OK) return st;
        text = own;
        len = n;
    }
    if (tok->prefix_space && len > 0 && text[0] != ' ') {
        char *p = malloc(len + 1);
        if (!p) {
            free(own);
            return TLM_ERR_NO_MEMORY;
        }
        p[0] = ' ';
        memcpy(p + 1, text, len);
        free(own);
        own = p;
        text = p;
        len++;
    }
    encoder e = {.tok = tok, .text = text, .out = out, .st = TLM_OK};
    if (tok->pretok)
        st = tlm_pretok_split(tok->pretok, text, len, on_pretoken, &e);
    else
        on_pretoken(&e, 0, len);
    if (st == TLM_OK) st = e.st;
    free(e.syms);
    free(e.heap);
    free(own);
    return st;
}
