/* vocab.c - the vocabulary core every reader and encoder shares: allocation, the piece ->
 * id map, byte pieces, decoded pieces, the added-token table (built by added.c), lookups and
 * free. It calls nothing above it: readers fill a tlm_tokenizer and call tlm_tokenizer_finish,
 * encoders (bpe.c, spm.c, merges.c) look pieces up here. */
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

#define U2581 "\xE2\x96\x81" /* SentencePiece's visible space, "▁" */
/* What SentencePiece prints for an unknown piece: " ⁇ " (U+2047 between spaces). */
#define UNK_SURFACE " \xE2\x81\x87 "

static uint64_t hash_bytes(const char *s, uint64_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a: short keys, no alignment needs */
    for (uint64_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static const char *piece(const tlm_tokenizer *tok, int32_t id, uint32_t *len)
{
    *len = tok->text_off[id + 1] - tok->text_off[id];
    return tok->text + tok->text_off[id];
}

tlm_tokenizer *tlm_tok_alloc(int32_t n_vocab)
{
    tlm_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->n_vocab = n_vocab;
    tok->text_off = malloc(((size_t)n_vocab + 1) * sizeof *tok->text_off);
    tok->scores = malloc((size_t)n_vocab * sizeof *tok->scores);
    tok->types = malloc((size_t)n_vocab);
    tok->attrs = calloc((size_t)n_vocab, 1);
    if (!tok->text_off || !tok->scores || !tok->types || !tok->attrs) {
        tlm_tokenizer_free(tok);
        return NULL;
    }
    tok->text_off[0] = 0;
    tok->bos = tok->eos = tok->unk = -1;
    return tok;
}

int32_t tlm_tokenizer_lookup(const tlm_tokenizer *tok, const char *s, uint64_t len)
{
    if (len == 0 || len > tok->max_piece_len) return -1;
    for (uint64_t slot = hash_bytes(s, len) & tok->map_mask;; slot = (slot + 1) & tok->map_mask) {
        int32_t id = tok->map[slot];
        if (id < 0) return -1;
        uint32_t plen;
        const char *p = piece(tok, id, &plen);
        if (plen == len && memcmp(p, s, len) == 0) return id;
    }
}

static bool mergeable(uint8_t type)
{
    return type == TLM_TOK_NORMAL || type == TLM_TOK_USER_DEFINED || type == TLM_TOK_UNDEFINED;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte a "<0xNN>" piece stands for, or -1. */
static int byte_piece_value(const char *p, uint32_t len)
{
    if (len != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int hi = hex_digit(p[3]), lo = hex_digit(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

/* Bytes id decodes to: written to out when out is not NULL; returns the count. */
static uint32_t decode_piece(const tlm_tokenizer *tok, int32_t id, char *out)
{
    uint32_t len;
    const char *p = piece(tok, id, &len);
    if (tok->kind == TLM_TOK_BPE) { /* pieces are already the bytes they stand for */
        if (tok->types[id] == TLM_TOK_CONTROL || tok->types[id] == TLM_TOK_UNUSED) return 0;
        if (out && len > 0) memcpy(out, p, len);
        return len;
    }
    switch (tok->types[id]) {
    case TLM_TOK_CONTROL:
    case TLM_TOK_UNUSED:
        return 0;
    case TLM_TOK_UNKNOWN:
        if (out) memcpy(out, UNK_SURFACE, sizeof UNK_SURFACE - 1);
        return (uint32_t)(sizeof UNK_SURFACE - 1);
    case TLM_TOK_BYTE:
        if (out) out[0] = (char)byte_piece_value(p, len); /* checked in build_byte_ids */
        return 1;
    default:
        break;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < len;) {
        if (tok->space_is_u2581 && len - i >= 3 && memcmp(p + i, U2581, 3) == 0) {
            if (out) out[n] = ' ';
            i += 3;
        } else {
            if (out) out[n] = p[i];
            i++;
        }
        n++;
    }
    return n;
}

static tlm_status build_byte_ids(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    for (int b = 0; b < 256; b++)
        tok->byte_id[b] = -1;
    if (tok->kind == TLM_TOK_BPE) { /* the one-byte pieces every merge starts from */
        for (int b = 0; b < 256; b++) {
            char c = (char)b;
            tok->byte_id[b] = tlm_tokenizer_lookup(tok, &c, 1);
        }
        return TLM_OK;
    }
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        if (tok->types[id] != TLM_TOK_BYTE) continue;
        uint32_t len;
        const char *p = piece(tok, id, &len);
        int b = byte_piece_value(p, len);
        if (b < 0)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: token %d is typed BYTE but its text '%.*s' is not <0xNN>", src,
                            (int)id, (int)(len < 32 ? len : 32), p);
        if (tok->byte_id[b] < 0) tok->byte_id[b] = id; /* a repeat keeps the lower id */
    }
    return TLM_OK;
}

/* True if piece p has a space (as the vocabulary writes it) right after a character that is
 * not a space. U+2581 is never split by the encoder's UTF-8 cutting (E2 is no continuation
 * byte), so comparing bytes is enough. */
static bool space_after_non_space(const tlm_tokenizer *tok, const char *p, uint32_t len)
{
    const char *sp = tok->space_is_u2581 ? U2581 : " ";
    uint32_t n = tok->space_is_u2581 ? 3 : 1;
    for (uint32_t k = 1; k + n <= len; k++) {
        if (memcmp(p + k, sp, n) != 0) continue;
        if (k < n || memcmp(p + k - n, sp, n) != 0) return true;
    }
    return false;
}

static tlm_status build_map(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    uint64_t cap = 16;
    while (cap < 2 * (uint64_t)tok->n_vocab)
        cap *= 2; /* load <= 1/2 keeps probes short */
    tok->map = malloc(cap * sizeof *tok->map);
    if (!tok->map)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for the piece table", src);
    memset(tok->map, 0xff, cap * sizeof *tok->map); /* all -1 */
    tok->map_mask = cap - 1;
    tok->max_piece_len = 0;
    tok->words_independent = true;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint32_t len;
        const char *p = piece(tok, id, &len);
        if (!mergeable(tok->types[id]) || len == 0) continue;
        if (tlm_tokenizer_lookup(tok, p, len) >= 0) continue; /* a repeat keeps the lower id */
        if (space_after_non_space(tok, p, len)) tok->words_independent = false;
        uint64_t slot = hash_bytes(p, len) & tok->map_mask;
        while (tok->map[slot] >= 0)
            slot = (slot + 1) & tok->map_mask;
        tok->map[slot] = id;
        if (len > tok->max_piece_len) tok->max_piece_len = len;
    }
    return TLM_OK;
}

static tlm_status build_decoded(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    /* A decoded piece is never longer than max(its text, UNK_SURFACE), so the total stays
     * below TLM_TOK_MAX_TOTAL + 5 * TLM_TOK_MAX_VOCAB < 2^31 and 32-bit offsets hold. */
    uint64_t total = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++)
        total += decode_piece(tok, id, NULL);
    tok->dec = malloc(total + 1);
    tok->dec_off = malloc(((uint64_t)tok->n_vocab + 1) * sizeof *tok->dec_off);
    if (!tok->dec || !tok->dec_off)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for decoded pieces", src);
    uint32_t at = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        tok->dec_off[id] = at;
        at += decode_piece(tok, id, tok->dec + at);
    }
    tok->dec_off[tok->n_vocab] = at;
    return TLM_OK;
}

tlm_status tlm_tokenizer_finish(tlm_tokenizer *tok, const char *src, tlm_error *err)
{
    tlm_status st = build_map(tok, src, err);
    if (st == TLM_OK) st = build_byte_ids(tok, src, err);
    if (st == TLM_OK) st = build_decoded(tok, src, err);
    if (st == TLM_OK) st = tlm_added_build(tok, src, err);
    return st;
}

TLM_API void tlm_tokenizer_free(tlm_tokenizer *tok)
{
    if (!tok) return;
    free(tok->text);
    free(tok->text_off);
    free(tok->scores);
    free(tok->types);
    free(tok->dec);
    free(tok->dec_off);
    free(tok->map);
    free(tok->merges);
    tlm_pretok_free(tok->pretok);
    free(tok->added);
    free(tok->attrs);
    tlm_pretok_free(tok->word);
    free(tok->chat_template);
    free(tok);
}

TLM_API int32_t tlm_tokenizer_find(const tlm_tokenizer *tok, const char *text)
{
    if (!tok || !text) return -1;
    size_t len = strlen(text);
    for (int32_t i = 0; i < tok->n_added; i++) { /* control and user-defined tokens first */
        uint32_t plen;
        const char *p = piece(tok, tok->added[i], &plen);
        if (plen == len && memcmp(p, text, len) == 0) return tok->added[i];
    }
    return tlm_tokenizer_lookup(tok, text, len);
}
