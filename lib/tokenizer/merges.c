/* merges.c - the merge table of byte-level BPE: (left id, right id) -> (merged id,
 * rank), filled from merge lists (merges.txt, GGUF tokenizer.ggml.merges, tokenizer.json) or
 * implied by tiktoken ranks. */
#include "tokenizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t pair_hash(int32_t left, int32_t right)
{
    uint64_t h = ((uint64_t)(uint32_t)left << 32) | (uint32_t)right;
    h ^= h >> 33; /* murmur3 finaliser: ids are dense, so spread them */
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

tlm_status tlm_bpe_merges_init(tlm_tokenizer *tok, uint64_t n, const char *src, tlm_error *err)
{
    uint64_t cap = 16;
    while (cap < 2 * n) /* load <= 1/2 keeps probes short */
        cap *= 2;
    free(tok->merges);
    tok->merges = malloc(cap * sizeof *tok->merges);
    if (!tok->merges)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " merges", src, n);
    for (uint64_t i = 0; i < cap; i++)
        tok->merges[i].left = -1;
    tok->merges_mask = cap - 1;
    return TLM_OK;
}

const tlm_bpe_merge *tlm_bpe_merge_find(const tlm_tokenizer *tok, int32_t left, int32_t right)
{
    if (!tok->merges) return NULL;
    for (uint64_t slot = pair_hash(left, right) & tok->merges_mask;;
         slot = (slot + 1) & tok->merges_mask) {
        const tlm_bpe_merge *m = &tok->merges[slot];
        if (m->left < 0) return NULL;
        if (m->left == left && m->right == right) return m;
    }
}

void tlm_bpe_merge_add(tlm_tokenizer *tok, int32_t left, int32_t right, int32_t merged,
                       int32_t rank)
{
    uint64_t slot = pair_hash(left, right) & tok->merges_mask;
    for (;; slot = (slot + 1) & tok->merges_mask) {
        tlm_bpe_merge *m = &tok->merges[slot];
        if (m->left < 0) break;
        if (m->left == left && m->right == right) return; /* a repeat keeps the first */
    }
    tok->merges[slot] = (tlm_bpe_merge){left, right, merged, rank};
}

/* The id of a piece given in byte-level form, decoded into buf; -1 if none. */
static int32_t lookup_bytelevel(const tlm_tokenizer *tok, const char *s, uint64_t len, char *buf,
                                int64_t *n)
{
    *n = tlm_bytelevel_decode(s, len, buf);
    return *n <= 0 ? -1 : tlm_tokenizer_lookup(tok, buf, (uint64_t)*n);
}

tlm_status tlm_bpe_merge_add_text(tlm_tokenizer *tok, const char *a, uint64_t alen, const char *b,
                                  uint64_t blen, int32_t rank, const char *src, const char *what,
                                  tlm_error *err)
{
    if (alen > TLM_TOK_MAX_PIECE || blen > TLM_TOK_MAX_PIECE)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s is longer than %d bytes", src, what,
                        (int)TLM_TOK_MAX_PIECE);
    char *buf = malloc(alen + blen + 1);
    if (!buf) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %s", src, what);
    int64_t na, nb;
    int32_t left = lookup_bytelevel(tok, a, alen, buf, &na);
    int32_t right = lookup_bytelevel(tok, b, blen, buf + (na > 0 ? na : 0), &nb);
    int32_t merged =
        left >= 0 && right >= 0 ? tlm_tokenizer_lookup(tok, buf, (uint64_t)(na + nb)) : -1;
    free(buf);
    if (left < 0 || right < 0 || merged < 0)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s \"%.*s %.*s\": %s is not in the vocabulary",
                        src, what, (int)(alen < 40 ? alen : 40), a, (int)(blen < 40 ? blen : 40), b,
                        left < 0    ? "its left piece"
                        : right < 0 ? "its right piece"
                                    : "the merged piece");
    tlm_bpe_merge_add(tok, left, right, merged, rank);
    return TLM_OK;
}

tlm_status tlm_bpe_merges_from_ranks(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    /* Each piece of n bytes has n - 1 splits; count them for the table size. */
    uint64_t n_splits = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint32_t len = tok->text_off[id + 1] - tok->text_off[id];
        if (len > 1 && tok->types[id] == TLM_TOK_NORMAL) n_splits += len - 1;
    }
    tlm_status st = tlm_bpe_merges_init(tok, n_splits, src, err);
    if (st != TLM_OK) return st;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint32_t len = tok->text_off[id + 1] - tok->text_off[id];
        const char *p = tok->text + tok->text_off[id];
        if (len < 2 || tok->types[id] != TLM_TOK_NORMAL) continue;
        if (tlm_tokenizer_lookup(tok, p, len) != id) continue; /* a repeated piece */
        for (uint32_t k = 1; k < len; k++) {
            int32_t left = tlm_tokenizer_lookup(tok, p, k);
            int32_t right = left >= 0 ? tlm_tokenizer_lookup(tok, p + k, len - k) : -1;
            if (right >= 0) tlm_bpe_merge_add(tok, left, right, id, id);
        }
    }
    return TLM_OK;
}
