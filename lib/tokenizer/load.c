/* load.c - the llama2.c tokenizer.bin reader, and the default piece types a vocabulary that
 * stores none gets (also used by the GGUF reader). The reader fills the pieces, scores,
 * types, special ids and flags, then tlm_tokenizer_finish (vocab.c) builds the lookup tables.
 *
 * Every count, length and id comes from an untrusted file: each is checked before use, and a
 * failure names the file, the field and (where the reader knows it) the byte offset. */
#include "tokenizer.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checked.h"

static bool is_byte_piece(const char *p, uint32_t len)
{
    static const char hex[] = "0123456789ABCDEFabcdef";
    return len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && p[3] && p[4] &&
           strchr(hex, p[3]) && strchr(hex, p[4]);
}

/* What SentencePiece's model says of pieces when the file stores no types. */
void tlm_tok_default_types(tlm_tokenizer *tok)
{
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint32_t off = tok->text_off[id], len = tok->text_off[id + 1] - off;
        uint8_t t = TLM_TOK_NORMAL;
        if (id == tok->bos || id == tok->eos)
            t = TLM_TOK_CONTROL;
        else if (id == tok->unk)
            t = TLM_TOK_UNKNOWN;
        else if (is_byte_piece(tok->text + off, len))
            t = TLM_TOK_BYTE;
        tok->types[id] = t;
    }
}

/* ---- llama2.c tokenizer.bin ----------------------------------------------------------- */

/* Reads exactly n bytes at *off, advancing it; false at end of file or on a read error. */
static bool read_exact(FILE *fp, void *buf, size_t n, uint64_t *off)
{
    if (n > 0 && fread(buf, 1, n, fp) != n) return false;
    *off += n;
    return true;
}

static tlm_status read_llama2c(FILE *fp, const char *path, uint64_t size, tlm_tokenizer *tok,
                               tlm_error *err)
{
    uint64_t off = 0;
    uint32_t max_token_length;
    if (!read_exact(fp, &max_token_length, 4, &off))
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: file of %" PRIu64 " bytes is too short for the max_token_length "
                        "field at offset 0",
                        path, size);
    size_t cap = 0, used = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint64_t at = off;
        float score;
        int32_t len;
        if (!read_exact(fp, &score, 4, &off) || !read_exact(fp, &len, 4, &off))
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: token %d at offset %" PRIu64 ": file ends (%" PRIu64
                            " bytes) inside its score/length fields; does the vocabulary hold "
                            "%d tokens?",
                            path, (int)id, at, size, (int)tok->n_vocab);
        if (isnan(score))
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: token %d at offset %" PRIu64 ": score is NaN",
                            path, (int)id, at);
        if (len < 0)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: token %d at offset %" PRIu64 ": length %d is negative", path,
                            (int)id, at + 4, (int)len);
        if (!tlm_range_ok(off, (uint64_t)len, size))
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: token %d at offset %" PRIu64 ": length %d runs past the end "
                            "of the file (%" PRIu64 " bytes)",
                            path, (int)id, at + 4, (int)len, size);
        if (len > TLM_TOK_MAX_PIECE)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: token %d at offset %" PRIu64
                            ": length %d exceeds the cap of %d bytes",
                            path, (int)id, at + 4, (int)len, (int)TLM_TOK_MAX_PIECE);
        if (used + (size_t)len > TLM_TOK_MAX_TOTAL)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: token %d at offset %" PRIu64 ": pieces exceed %d bytes in total",
                            path, (int)id, at, (int)TLM_TOK_MAX_TOTAL);
        if (used + (size_t)len + 1 > cap) {
            size_t ncap = cap ? 2 * cap : 4096;
            while (ncap < used + (size_t)len + 1)
                ncap *= 2;
            char *t = realloc(tok->text, ncap);
            if (!t) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", path);
            tok->text = t;
            cap = ncap;
        }
        if (!read_exact(fp, tok->text + used, (size_t)len, &off))
            return tlm_fail(err, TLM_ERR_IO, "%s: read error at offset %" PRIu64, path, off);
        used += (size_t)len;
        tok->scores[id] = score;
        tok->text_off[id + 1] = (uint32_t)used;
    }
    if (!tok->text) tok->text = malloc(1); /* all pieces empty: keep text non-NULL */
    if (!tok->text) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", path);
    return TLM_OK;
}

TLM_API tlm_status tlm_tokenizer_load_llama2c(const char *path, int32_t n_vocab,
                                              tlm_tokenizer **out, tlm_error *err)
{
    if (out) *out = NULL;
    if (!path || !out)
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_tokenizer_load_llama2c: path and out must not "
                        "be NULL");
    if (n_vocab < 1 || n_vocab > TLM_TOK_MAX_VOCAB)
        return tlm_fail(err, TLM_ERR_ARG, "%s: n_vocab %d is outside [1, %d]", path, (int)n_vocab,
                        (int)TLM_TOK_MAX_VOCAB);
    FILE *fp = fopen(path, "rb");
    if (!fp) return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return tlm_fail(err, TLM_ERR_IO, "%s: not a regular file", path);
    }
    tlm_tokenizer *tok = tlm_tok_alloc(n_vocab);
    if (!tok) {
        fclose(fp);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %d tokens", path, (int)n_vocab);
    }
    tlm_status st = read_llama2c(fp, path, (uint64_t)sb.st_size, tok, err);
    fclose(fp);
    if (st == TLM_OK) {
        /* llama2.c hard-codes these ids (run.c); its export writes spaces as ' '. */
        tok->kind = TLM_TOK_SPM;
        tok->unk = 0;
        tok->bos = n_vocab > 1 ? 1 : -1;
        tok->eos = n_vocab > 2 ? 2 : -1;
        tok->space_is_u2581 = false;
        tok->add_space_prefix = true;
        tok->add_bos = true;
        tlm_tok_default_types(tok);
        st = tlm_tokenizer_finish(tok, path, err);
    }
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}
