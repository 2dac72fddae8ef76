/* tokenizer_added.c - added tokens: pieces that text turns into whole, before any other
 * splitting (Phi-2's runs of spaces and tabs, Qwen's <|im_start|>, Phi-3's <|user|>), and the
 * encoding entry point that cuts them out and hands the text between them to the
 * vocabulary's encoder.
 *
 * USER_DEFINED tokens are always matched; CONTROL tokens only when the caller asks for
 * special tokens to be parsed (so text from a user cannot forge a turn marker). At each
 * position the longest token wins, as in the reference tokenizers. SentencePiece vocabularies
 * without special parsing keep their own rules: user-defined pieces are pieces like others. */
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

tlm_status tlm_added_build(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    int32_t n = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint8_t t = tok->types[id];
        if ((t == TLM_TOK_CONTROL || t == TLM_TOK_USER_DEFINED) &&
            tok->text_off[id + 1] > tok->text_off[id])
            n++;
    }
    entry *e = malloc(((size_t)n + 1) * sizeof *e);
    free(tok->added);
    tok->added = malloc(((size_t)n + 1) * sizeof *tok->added);
    if (!e || !tok->added) {
        free(e);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for added tokens", src);
    }
    n = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint8_t t = tok->types[id];
        uint32_t len = tok->text_off[id + 1] - tok->text_off[id];
        if ((t == TLM_TOK_CONTROL || t == TLM_TOK_USER_DEFINED) && len > 0)
            e[n++] = (entry){id, len, (unsigned char)tok->text[tok->text_off[id]]};
    }
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
    return TLM_OK;
}

int32_t tlm_added_match(const tlm_tokenizer *tok, const char *s, uint64_t len, bool special,
                        uint64_t *mlen)
{
    unsigned char b = (unsigned char)s[0];
    for (int32_t i = tok->added_at[b]; i < tok->added_at[b + 1]; i++) {
        int32_t id = tok->added[i];
        if (!special && tok->types[id] == TLM_TOK_CONTROL) continue;
        uint32_t plen = tok->text_off[id + 1] - tok->text_off[id];
        if (plen <= len && memcmp(s, tok->text + tok->text_off[id], plen) == 0) {
            *mlen = plen;
            return id;
        }
    }
    return -1;
}

/* Text with no added token in it, to the vocabulary's encoder. */
static tlm_status encode_plain(const tlm_tokenizer *tok, const char *text, uint64_t len,
                               tlm_id_sink *out)
{
    if (len == 0) return TLM_OK;
    if (tok->kind == TLM_TOK_BPE) return tlm_bpe_encode(tok, text, len, out);
    int64_t n = 0;
    bool room = out->n < out->cap;
    tlm_status st = tlm_spm_encode(tok, text, len, room ? out->ids + out->n : NULL,
                                   room ? out->cap - out->n : 0, &n);
    out->n += n;
    return st;
}

tlm_status tlm_tok_encode(const tlm_tokenizer *tok, const char *text, uint64_t len, bool special,
                          tlm_id_sink *out)
{
    if (tok->n_added == 0 || (tok->kind == TLM_TOK_SPM && !special))
        return encode_plain(tok, text, len, out);
    uint64_t seg = 0;
    for (uint64_t at = 0; at < len;) {
        uint64_t mlen;
        int32_t id = tlm_added_match(tok, text + at, len - at, special, &mlen);
        if (id < 0) {
            at++;
            continue;
        }
        /* SentencePiece fragments each get the dummy prefix, as llama.cpp does when it
         * parses special tokens (see docs/tokenizers.md). */
        tlm_status st = encode_plain(tok, text + seg, at - seg, out);
        if (st != TLM_OK) return st;
        tlm_sink_push(out, id);
        at += mlen;
        seg = at;
    }
    return encode_plain(tok, text + seg, len - seg, out);
}
