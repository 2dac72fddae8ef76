/* added.c - added tokens: pieces that text turns into whole, before any other splitting
 * (Phi-2's runs of spaces and tabs, Qwen's <|im_start|>, Phi-3's <|user|>). This file holds
 * their table (longest first at each first byte), the match, and the rules Hugging Face's
 * AddedVocabulary applies around a match: the whitespace lstrip / rstrip take, and the word
 * boundaries single_word needs. encode.c runs the split with them; chat.c applies the same
 * strip rules around the special tokens of a template.
 *
 * Whitespace is Unicode White_Space and a word character is what the Rust regex crate calls
 * \w (HF tests both with that crate), not C's isspace / isalnum. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    int32_t id;
    uint32_t len;
    unsigned char first;
} entry;

static int by_first_then_longest(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->first != y->first) return x->first < y->first ? -1 : 1;
    if (x->len != y->len) return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static bool is_added(const tlm_tokenizer *tok, int32_t id)
{
    uint8_t t = tok->types[id];
    return (t == TLM_TOK_CONTROL || t == TLM_TOK_USER_DEFINED) &&
           tok->text_off[id + 1] > tok->text_off[id];
}

/* Rust regex \w with Unicode: Alphabetic, Mark, Decimal_Number, Connector_Punctuation,
 * Join_Control (UTS #18 annex C). PCRE2's own \w under UCP differs (it has \p{N}, no marks). */
#define WORD_CHAR "[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\x{200C}\\x{200D}]"

tlm_status tlm_added_build(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    int32_t n = 0;
    bool single_word = false;
    tok->any_normalized = false;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        if (!is_added(tok, id)) continue;
        n++;
        single_word |= (tok->attrs[id] & TLM_ADDED_SINGLE_WORD) != 0;
        tok->any_normalized |= (tok->attrs[id] & TLM_ADDED_NORMALIZED) != 0;
    }
    entry *e = malloc(((size_t)n + 1) * sizeof *e);
    free(tok->added);
    tok->added = malloc(((size_t)n + 1) * sizeof *tok->added);
    if (!e || !tok->added) {
        free(e);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for added tokens", src);
    }
    n = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++)
        if (is_added(tok, id))
            e[n++] = (entry){id, tok->text_off[id + 1] - tok->text_off[id],
                             (unsigned char)tok->text[tok->text_off[id]]};
    qsort(e, (size_t)n, sizeof *e, by_first_then_longest);
    int32_t at = 0;
    for (int b = 0; b < 256; b++) {
        tok->added_at[b] = at;
        while (at < n && e[at].first == b) {
            tok->added[at] = e[at].id;
            at++;
        }
    }
    tok->added_at[256] = n;
    tok->n_added = n;
    free(e);
    if (single_word && !tok->word) return tlm_pretok_compile(WORD_CHAR, &tok->word, src, err);
    return TLM_OK;
}

int32_t tlm_added_match(const tlm_tokenizer *tok, const char *s, uint64_t len, tlm_added_pass pass,
                        uint64_t *mlen)
{
    unsigned char b = (unsigned char)s[0];
    for (int32_t i = tok->added_at[b]; i < tok->added_at[b + 1]; i++) {
        int32_t id = tok->added[i];
        bool normalized = (tok->attrs[id] & TLM_ADDED_NORMALIZED) != 0;
        if (pass != TLM_ADDED_PASS_ANY && normalized != (pass == TLM_ADDED_PASS_NORMALIZED))
            continue;
        uint32_t plen = tok->text_off[id + 1] - tok->text_off[id];
        if (plen <= len && memcmp(s, tok->text + tok->text_off[id], plen) == 0) {
            *mlen = plen;
            return id;
        }
    }
    return -1;
}

/* Length of the White_Space character at s[0..n), or 0. */
static unsigned ws_at(const unsigned char *s, uint64_t n)
{
    if (n >= 1 && ((s[0] >= 0x09 && s[0] <= 0x0D) || s[0] == 0x20)) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3; /* U+1680 */
    if (s[0] == 0xE2 && s[1] == 0x80 &&
        (s[2] <= 0x8A || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3; /* U+2000..200A, U+2028, U+2029, U+202F */
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

uint64_t tlm_ws_prefix(const char *s, uint64_t len)
{
    uint64_t at = 0;
    unsigned k;
    while (at < len && (k = ws_at((const unsigned char *)s + at, len - at)) > 0)
        at += k;
    return at;
}

/* Start of the UTF-8 character that ends at s[end] (a lone byte counts as one). */
static uint64_t char_start(const char *s, uint64_t end)
{
    uint64_t i = end - 1;
    while (i > 0 && end - i < 4 && ((unsigned char)s[i] & 0xC0) == 0x80)
        i--;
    return i;
}

uint64_t tlm_ws_suffix(const char *s, uint64_t len)
{
    uint64_t end = len;
    while (end > 0) {
        uint64_t c = char_start(s, end);
        if (ws_at((const unsigned char *)s + c, end - c) != end - c) break;
        end = c;
    }
    return len - end;
}

static uint64_t char_end(const char *s, uint64_t len, uint64_t i)
{
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

bool tlm_added_single_word_ok(const tlm_tokenizer *tok, const char *s, uint64_t len, uint64_t start,
                              uint64_t stop)
{
    if (!tok->word) return true;
    if (start > 0) {
        uint64_t c = char_start(s, start);
        if (tlm_pretok_matches_all(tok->word, s + c, start - c)) return false;
    }
    if (stop < len && tlm_pretok_matches_all(tok->word, s + stop, char_end(s, len, stop) - stop))
        return false;
    return true;
}

/* Whether piece id is one of the space-separated words of list. */
static bool listed(const tlm_tokenizer *tok, int32_t id, const char *list)
{
    const char *p = tok->text + tok->text_off[id];
    size_t n = tok->text_off[id + 1] - tok->text_off[id];
    for (const char *w = list; *w;) {
        size_t k = strcspn(w, " ");
        if (k == n && memcmp(w, p, n) == 0) return true;
        w += k;
        w += strspn(w, " ");
    }
    return false;
}

void tlm_tok_rstrip_added(tlm_tokenizer *tok, const char *except)
{
    for (int32_t id = 0; id < tok->n_vocab; id++)
        if (is_added(tok, id) && !listed(tok, id, except)) tok->attrs[id] |= TLM_ADDED_RSTRIP;
}
