/* detok.c - streaming decode: token pieces in, only complete UTF-8 characters out.
 *
 * A byte-level BPE piece (and a SentencePiece byte piece <0xE2>) may hold part of a
 * character; printing pieces as they come would split characters across writes and, at the
 * end of a stream, leave a broken one. The bytes of an unfinished character wait here until
 * the piece that completes them. Ill-formed input is replaced by U+FFFD following Unicode's
 * "maximal subpart" practice (one U+FFFD per maximal prefix of a well-formed sequence, or per
 * lone byte), which is what Python's errors="replace" does. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define FFFD "\xEF\xBF\xBD"

struct tlm_detok {
    const tlm_tokenizer *tok;
    int32_t prev;
    unsigned char held[4]; /* the start of an unfinished character */
    int n_held;
    char *out;
    size_t cap;
};

TLM_API tlm_status tlm_detok_create(const tlm_tokenizer *tok, tlm_detok **out)
{
    if (out) *out = NULL;
    if (!tok || !out) return TLM_ERR_ARG;
    tlm_detok *d = calloc(1, sizeof *d);
    if (!d) return TLM_ERR_NO_MEMORY;
    d->tok = tok;
    d->prev = -1;
    *out = d;
    return TLM_OK;
}

TLM_API void tlm_detok_free(tlm_detok *d)
{
    if (!d) return;
    free(d->out);
    free(d);
}

TLM_API void tlm_detok_reset(tlm_detok *d, int32_t prev)
{
    if (!d) return;
    d->prev = prev;
    d->n_held = 0;
}

/* Length of the well-formed sequence a lead byte starts (0: not a lead byte), and the range
 * its second byte must be in (which rules out overlongs, surrogates and > U+10FFFF). */
static int lead(unsigned c, unsigned *lo, unsigned *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return 2;
    if (c >= 0xE0 && c <= 0xEF) {
        if (c == 0xE0) *lo = 0xA0;
        if (c == 0xED) *hi = 0x9F;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (c == 0xF0) *lo = 0x90;
        if (c == 0xF4) *hi = 0x8F;
        return 4;
    }
    return 0;
}

/* How many bytes of s[0..n) the sequence at s takes as well-formed (1 <= k <= need); sets
 * *complete when all `need` bytes are there. */
static int well_formed_prefix(const unsigned char *s, size_t n, bool *complete)
{
    unsigned lo, hi;
    int need = lead(s[0], &lo, &hi);
    *complete = need == 1;
    if (need <= 1) return 1;
    int k = 1;
    while (k < need && (size_t)k < n) {
        unsigned c = s[k];
        if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xBF)) break;
        k++;
    }
    *complete = k == need;
    return k;
}

/* Converts src[0..n) to well-formed text appended to d->out at *at; an incomplete but so far
 * well-formed tail (it starts with a lead byte C2..F4) is held (hold) or replaced (at the end
 * of the stream). */
static void convert(tlm_detok *d, const unsigned char *src, size_t n, size_t *at, bool hold)
{
    for (size_t i = 0; i < n;) {
        bool complete;
        int k = well_formed_prefix(src + i, n - i, &complete);
        if (complete) {
            memcpy(d->out + *at, src + i, (size_t)k);
            *at += (size_t)k;
        } else if (hold && i + (size_t)k == n && src[i] >= 0xC2 && src[i] <= 0xF4) {
            memcpy(d->held, src + i, (size_t)k); /* k < 4 */
            d->n_held = k;
        } else {
            memcpy(d->out + *at, FFFD, 3);
            *at += 3;
        }
        i += (size_t)k;
    }
}

static bool reserve(tlm_detok *d, size_t need)
{
    if (need <= d->cap) return true;
    size_t cap = d->cap ? d->cap : 256;
    while (cap < need)
        cap *= 2;
    char *o = realloc(d->out, cap);
    if (!o) return false;
    d->out = o;
    d->cap = cap;
    return true;
}

TLM_API const char *tlm_detok_push(tlm_detok *d, int32_t id, size_t *len)
{
    if (len) *len = 0;
    if (!d) return NULL;
    size_t plen;
    const char *p = tlm_token_piece(d->tok, d->prev, id, &plen);
    if (!p) return NULL;
    d->prev = id;
    /* Held bytes and the piece, each byte becoming at most 3 (U+FFFD). */
    size_t n = (size_t)d->n_held + plen;
    unsigned char *buf = malloc(n + 1);
    if (!buf || !reserve(d, 3 * n + 1)) {
        free(buf);
        return NULL;
    }
    memcpy(buf, d->held, (size_t)d->n_held);
    memcpy(buf + d->n_held, p, plen);
    d->n_held = 0;
    size_t at = 0;
    convert(d, buf, n, &at, true);
    free(buf);
    if (len) *len = at;
    return d->out;
}

TLM_API const char *tlm_detok_flush(tlm_detok *d, size_t *len)
{
    if (len) *len = 0;
    if (!d || !reserve(d, 3 * 4 + 1)) return NULL;
    size_t at = 0;
    unsigned char held[4];
    size_t n = (size_t)d->n_held;
    memcpy(held, d->held, n);
    d->n_held = 0;
    convert(d, held, n, &at, false);
    if (len) *len = at;
    return d->out;
}
