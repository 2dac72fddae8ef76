/* tokenizer_load.c - vocabulary readers: llama2.c tokenizer.bin and the tokenizer.ggml.* keys
 * of a GGUF file. Each fills the pieces, scores, types, special ids and flags of a
 * tlm_tokenizer, then tlm_tokenizer_finish builds the lookup tables.
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

static tlm_tokenizer *tokenizer_alloc(int32_t n_vocab)
{
    tlm_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok) return NULL;
    tok->n_vocab = n_vocab;
    tok->text_off = malloc(((size_t)n_vocab + 1) * sizeof *tok->text_off);
    tok->scores = malloc((size_t)n_vocab * sizeof *tok->scores);
    tok->types = malloc((size_t)n_vocab);
    if (!tok->text_off || !tok->scores || !tok->types) {
        tlm_tokenizer_free(tok);
        return NULL;
    }
    tok->text_off[0] = 0;
    tok->bos = tok->eos = tok->unk = -1;
    return tok;
}

static bool is_byte_piece(const char *p, uint32_t len)
{
    static const char hex[] = "0123456789ABCDEFabcdef";
    return len == 6 && memcmp(p, "<0x", 3) == 0 && p[5] == '>' && p[3] && p[4] &&
           strchr(hex, p[3]) && strchr(hex, p[4]);
}

/* Types for a vocabulary that stores none: the special ids are control/unknown, <0xNN>
 * pieces are bytes, everything else is normal (what SentencePiece's model says of them). */
static void default_types(tlm_tokenizer *tok)
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
    tlm_tokenizer *tok = tokenizer_alloc(n_vocab);
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
        default_types(tok);
        st = tlm_tokenizer_finish(tok, path, err);
    }
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}

/* ---- GGUF tokenizer.ggml.* ------------------------------------------------------------ */

static bool is_int_type(gguf_vtype t)
{
    return t == GGUF_U8 || t == GGUF_I8 || t == GGUF_U16 || t == GGUF_I16 || t == GGUF_U32 ||
           t == GGUF_I32 || t == GGUF_U64 || t == GGUF_I64;
}

static bool is_signed_type(gguf_vtype t)
{
    return t == GGUF_I8 || t == GGUF_I16 || t == GGUF_I32 || t == GGUF_I64;
}

/* A token id key: absent gives dflt (or -1 when dflt is not an id of this vocabulary);
 * present, it must be an integer in [0, n_vocab). */
static tlm_status get_id(const gguf_file *f, const char *key, int32_t n_vocab, int32_t dflt,
                         int32_t *out, tlm_error *err)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) {
        *out = dflt < n_vocab ? dflt : -1;
        return TLM_OK;
    }
    if (!is_int_type(kv->type))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s has value type %d, not an integer", f->path,
                        key, (int)kv->type);
    bool neg = is_signed_type(kv->type) && kv->v.i < 0;
    if (neg || kv->v.u >= (uint64_t)n_vocab) {
        if (neg)
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s = %" PRId64 " is negative", f->path, key,
                            kv->v.i);
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s = %" PRIu64 " is not below the %d tokens",
                        f->path, key, kv->v.u, (int)n_vocab);
    }
    *out = (int32_t)kv->v.u;
    return TLM_OK;
}

static tlm_status get_flag(const gguf_file *f, const char *key, bool dflt, bool *out,
                           tlm_error *err)
{
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv) {
        *out = dflt;
        return TLM_OK;
    }
    if (kv->type != GGUF_BOOL)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s has value type %d, not bool", f->path, key,
                        (int)kv->type);
    *out = kv->v.u != 0;
    return TLM_OK;
}

/* An array key of element type `type` with exactly n elements (n == 0: any count). */
static tlm_status get_array(const gguf_file *f, const char *key, gguf_vtype type, uint64_t n,
                            const gguf_kv **out, tlm_error *err)
{
    const gguf_kv *kv = gguf_find(f, key);
    *out = NULL;
    if (!kv) return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s is missing", f->path, key);
    if (kv->type != GGUF_ARRAY || kv->v.arr.type != type)
        return tlm_fail(
            err, TLM_ERR_FORMAT, "%s: %s must be an array of value type %d (it is type %d%s%d)",
            f->path, key, (int)type, (int)kv->type, kv->type == GGUF_ARRAY ? " of " : ", element ",
            kv->type == GGUF_ARRAY ? (int)kv->v.arr.type : -1);
    if (n != 0 && kv->v.arr.n != n)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: %s has %" PRIu64 " elements, tokenizer.ggml."
                        "tokens has %" PRIu64,
                        f->path, key, kv->v.arr.n, n);
    *out = kv;
    return TLM_OK;
}

static tlm_status check_model(const gguf_file *f, tlm_error *err)
{
    const char *key = "tokenizer.ggml.model";
    const gguf_kv *kv = gguf_find(f, key);
    if (!kv)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "%s: no tokenizer in the file (%s is absent)",
                        f->path, key);
    if (kv->type != GGUF_STRING)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s has value type %d, not string", f->path, key,
                        (int)kv->type);
    const char *s = kv->v.str.ptr;
    uint64_t len = kv->v.str.len;
    if (len == 5 && memcmp(s, "llama", 5) == 0) return TLM_OK;
    if (len == 4 && memcmp(s, "gpt2", 4) == 0)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: %s is \"gpt2\": byte-level BPE "
                        "tokenizers are not supported yet (only \"llama\" SentencePiece)",
                        f->path, key);
    return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                    "%s: %s \"%.*s\" is not supported (only "
                    "\"llama\" SentencePiece)",
                    f->path, key, (int)(len < 40 ? len : 40), s);
}

/* File offset of element i's length prefix in a STRING array. */
static uint64_t str_offset(const gguf_file *f, const gguf_kv *kv, int32_t i)
{
    return (uint64_t)(kv->v.arr.data - f->map) + kv->v.arr.str_offsets[i];
}

static tlm_status read_gguf_pieces(const gguf_file *f, const gguf_kv *tokens, tlm_tokenizer *tok,
                                   tlm_error *err)
{
    uint64_t total = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint64_t len;
        gguf_arr_str(tokens, (uint64_t)id, &len);
        if (len > TLM_TOK_MAX_PIECE)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: tokenizer.ggml.tokens[%d] at offset %" PRIu64 ": length %" PRIu64
                            " exceeds the cap of %d bytes",
                            f->path, (int)id, str_offset(f, tokens, id), len,
                            (int)TLM_TOK_MAX_PIECE);
        total += len;
        if (total > TLM_TOK_MAX_TOTAL)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: tokenizer.ggml.tokens: pieces exceed %d "
                            "bytes in total",
                            f->path, (int)TLM_TOK_MAX_TOTAL);
        tok->text_off[id + 1] = (uint32_t)total;
    }
    tok->text = malloc(total + 1);
    if (!tok->text) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", f->path);
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        uint64_t len;
        const char *p = gguf_arr_str(tokens, (uint64_t)id, &len);
        if (len > 0) memcpy(tok->text + tok->text_off[id], p, len);
    }
    return TLM_OK;
}

static tlm_status read_gguf_scores(const gguf_file *f, const gguf_kv *scores, tlm_tokenizer *tok,
                                   tlm_error *err)
{
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        float s;
        memcpy(&s, scores->v.arr.data + 4 * (size_t)id, 4); /* the map gives no alignment */
        if (isnan(s))
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: tokenizer.ggml.scores[%d] is NaN", f->path,
                            (int)id);
        tok->scores[id] = s;
    }
    return TLM_OK;
}

static tlm_status read_gguf_types(const gguf_file *f, const gguf_kv *types, tlm_tokenizer *tok,
                                  tlm_error *err)
{
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        int32_t t;
        memcpy(&t, types->v.arr.data + 4 * (size_t)id, 4);
        if (t < TLM_TOK_UNDEFINED || t > TLM_TOK_BYTE)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: tokenizer.ggml.token_type[%d] = %d is "
                            "not a token type (0..6)",
                            f->path, (int)id, (int)t);
        tok->types[id] = (uint8_t)t;
    }
    return TLM_OK;
}

static tlm_status read_gguf(const gguf_file *f, tlm_tokenizer **out, tlm_error *err)
{
    const gguf_kv *tokens, *scores, *types = NULL;
    tlm_status st = check_model(f, err);
    if (st != TLM_OK) return st;
    st = get_array(f, "tokenizer.ggml.tokens", GGUF_STRING, 0, &tokens, err);
    if (st != TLM_OK) return st;
    uint64_t n = tokens->v.arr.n;
    if (n < 1 || n > TLM_TOK_MAX_VOCAB)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tokenizer.ggml.tokens has %" PRIu64 " tokens, outside [1, %d]",
                        f->path, n, (int)TLM_TOK_MAX_VOCAB);
    st = get_array(f, "tokenizer.ggml.scores", GGUF_F32, n, &scores, err);
    if (st != TLM_OK) return st;
    if (gguf_find(f, "tokenizer.ggml.token_type")) {
        st = get_array(f, "tokenizer.ggml.token_type", GGUF_I32, n, &types, err);
        if (st != TLM_OK) return st;
    }

    tlm_tokenizer *tok = tokenizer_alloc((int32_t)n);
    if (!tok)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " tokens", f->path, n);
    tok->kind = TLM_TOK_SPM;
    tok->space_is_u2581 = true;
    /* Absent ids take SentencePiece's defaults: <unk> 0, <s> 1, </s> 2. */
    st = get_id(f, "tokenizer.ggml.bos_token_id", tok->n_vocab, 1, &tok->bos, err);
    if (st == TLM_OK)
        st = get_id(f, "tokenizer.ggml.eos_token_id", tok->n_vocab, 2, &tok->eos, err);
    if (st == TLM_OK)
        st = get_id(f, "tokenizer.ggml.unknown_token_id", tok->n_vocab, 0, &tok->unk, err);
    if (st == TLM_OK)
        st = get_flag(f, "tokenizer.ggml.add_space_prefix", true, &tok->add_space_prefix, err);
    if (st == TLM_OK) st = get_flag(f, "tokenizer.ggml.add_bos_token", true, &tok->add_bos, err);
    if (st == TLM_OK) st = read_gguf_pieces(f, tokens, tok, err);
    if (st == TLM_OK) st = read_gguf_scores(f, scores, tok, err);
    if (st == TLM_OK) {
        if (types)
            st = read_gguf_types(f, types, tok, err);
        else
            default_types(tok);
    }
    if (st == TLM_OK) st = tlm_tokenizer_finish(tok, f->path, err);
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}

tlm_status tlm_tokenizer_from_gguf(const gguf_file *f, tlm_tokenizer **out, tlm_error *err)
{
    if (out) *out = NULL;
    if (!f || !out)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_tokenizer_from_gguf: f and out must not be NULL");
    return read_gguf(f, out, err);
}
