/* gguf.c - the tokenizer.ggml.* keys of a GGUF file: "llama" (SentencePiece: pieces,
 * scores, types) and "gpt2" (byte-level BPE: pieces in the GPT-2 byte-to-unicode form,
 * types, merges, and tokenizer.ggml.pre naming the pre-tokenizer regex).
 *
 * Every count, length and id comes from an untrusted file: each is checked before use, and a
 * failure names the file, the key and (where known) the byte offset. */
#include "gguf_read.h"
#include "tokenizer.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const gguf_kv *kv = tlm_gguf_find(f, key);
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
    const gguf_kv *kv = tlm_gguf_find(f, key);
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
    const gguf_kv *kv = tlm_gguf_find(f, key);
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

/* TLM_OK for "llama"; 1 (as a tlm_status) for "gpt2", which has its own reader. */
static tlm_status check_model(const gguf_file *f, bool *bpe, tlm_error *err)
{
    const char *key = "tokenizer.ggml.model";
    const gguf_kv *kv = tlm_gguf_find(f, key);
    *bpe = false;
    if (!kv)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "%s: no tokenizer in the file (%s is absent)",
                        f->path, key);
    if (kv->type != GGUF_STRING)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s has value type %d, not string", f->path, key,
                        (int)kv->type);
    const char *s = kv->v.str.ptr;
    uint64_t len = kv->v.str.len;
    if (len == 5 && memcmp(s, "llama", 5) == 0) return TLM_OK;
    if (len == 4 && memcmp(s, "gpt2", 4) == 0) {
        *bpe = true;
        return TLM_OK;
    }
    return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                    "%s: %s \"%.*s\" is not supported (only \"llama\" SentencePiece and "
                    "\"gpt2\" byte-level BPE)",
                    f->path, key, (int)(len < 40 ? len : 40), s);
}

/* The file's Jinja chat template (tokenizer.chat_template), copied; absent is fine. */
static tlm_status read_chat_template(const gguf_file *f, tlm_tokenizer *tok, tlm_error *err)
{
    const gguf_kv *kv = tlm_gguf_find(f, "tokenizer.chat_template");
    if (!kv) return TLM_OK;
    if (kv->type != GGUF_STRING)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tokenizer.chat_template has value type %d, not string", f->path,
                        (int)kv->type);
    if (kv->v.str.len > TLM_TOK_MAX_PIECE)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tokenizer.chat_template is over %d bytes",
                        f->path, (int)TLM_TOK_MAX_PIECE);
    tok->chat_template = malloc(kv->v.str.len + 1);
    if (!tok->chat_template)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for the chat template", f->path);
    memcpy(tok->chat_template, kv->v.str.ptr, kv->v.str.len);
    tok->chat_template[kv->v.str.len] = '\0';
    return TLM_OK;
}

/* general.architecture, kept for the model layer's family rules (tokenizer.h, gguf_arch);
 * absent or too long leaves it empty. */
static void read_arch(const gguf_file *f, tlm_tokenizer *tok)
{
    const gguf_kv *kv = tlm_gguf_find(f, "general.architecture");
    tok->gguf_arch[0] = '\0';
    if (kv && kv->type == GGUF_STRING && kv->v.str.len < sizeof tok->gguf_arch &&
        !memchr(kv->v.str.ptr, '\0', kv->v.str.len)) {
        memcpy(tok->gguf_arch, kv->v.str.ptr, kv->v.str.len);
        tok->gguf_arch[kv->v.str.len] = '\0';
    }
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
        tlm_gguf_arr_str(tokens, (uint64_t)id, &len);
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
        const char *p = tlm_gguf_arr_str(tokens, (uint64_t)id, &len);
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
    bool bpe;
    tlm_status st = check_model(f, &bpe, err);
    if (st != TLM_OK) return st;
    if (bpe) return tlm_tokenizer_from_gguf_bpe(f, out, err);
    st = get_array(f, "tokenizer.ggml.tokens", GGUF_STRING, 0, &tokens, err);
    if (st != TLM_OK) return st;
    uint64_t n = tokens->v.arr.n;
    if (n < 1 || n > TLM_TOK_MAX_VOCAB)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tokenizer.ggml.tokens has %" PRIu64 " tokens, outside [1, %d]",
                        f->path, n, (int)TLM_TOK_MAX_VOCAB);
    st = get_array(f, "tokenizer.ggml.scores", GGUF_F32, n, &scores, err);
    if (st != TLM_OK) return st;
    if (tlm_gguf_find(f, "tokenizer.ggml.token_type")) {
        st = get_array(f, "tokenizer.ggml.token_type", GGUF_I32, n, &types, err);
        if (st != TLM_OK) return st;
    }

    tlm_tokenizer *tok = tlm_tok_alloc((int32_t)n);
    if (!tok)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " tokens", f->path, n);
    tok->kind = TLM_TOK_SPM;
    tok->special_by_default = true;
    tok->space_is_u2581 = true;
    tok->invalid_utf8_fffd = true; /* the vocabulary came from SentencePiece */
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
            tlm_tok_default_types(tok);
    }
    if (st == TLM_OK) st = read_chat_template(f, tok, err);
    if (st == TLM_OK) st = tlm_tokenizer_finish(tok, f->path, err);
    if (st == TLM_OK) read_arch(f, tok);
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

/* ---- "gpt2": byte-level BPE ----------------------------------------------------------- */

/* tokenizer.ggml.pre: which regex splits text before BPE. */
static tlm_status read_pre(const gguf_file *f, tlm_tokenizer *tok, tlm_error *err)
{
    const char *key = "tokenizer.ggml.pre";
    const gguf_kv *kv = tlm_gguf_find(f, key);
    if (!kv)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: %s is absent, so the pre-tokenizer regex is unknown", f->path, key);
    if (kv->type != GGUF_STRING)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s has value type %d, not string", f->path, key,
                        (int)kv->type);
    char name[64];
    uint64_t len = kv->v.str.len;
    const char *pattern = NULL;
    if (len < sizeof name) {
        memcpy(name, kv->v.str.ptr, len);
        name[len] = '\0';
        pattern = tlm_pretok_pattern(name, &tok->nfc);
    }
    if (!pattern)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: %s \"%.*s\" is not a known pre-tokenizer (known: gpt-2, phi-2, "
                        "qwen2, stablelm2, stablelm)",
                        f->path, key, (int)(len < 40 ? len : 40), kv->v.str.ptr);
    return tlm_pretok_compile(pattern, &tok->pretok, f->path, err);
}

static tlm_status read_merges(const gguf_file *f, const gguf_kv *merges, tlm_tokenizer *tok,
                              tlm_error *err)
{
    uint64_t n = merges->v.arr.n;
    if (n > INT32_MAX)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tokenizer.ggml.merges has %" PRIu64 " entries",
                        f->path, n);
    tlm_status st = tlm_bpe_merges_init(tok, n, f->path, err);
    for (uint64_t i = 0; i < n && st == TLM_OK; i++) {
        uint64_t len;
        const char *s = tlm_gguf_arr_str(merges, i, &len);
        const char *sp = len > 0 ? memchr(s, ' ', len) : NULL;
        char what[96];
        snprintf(what, sizeof what, "tokenizer.ggml.merges[%" PRIu64 "] at offset %" PRIu64, i,
                 str_offset(f, merges, (int32_t)i));
        /* Byte-level pieces never hold a space (it is written U+0120): one space separates. */
        if (!sp || sp == s || sp == s + len - 1 || memchr(sp + 1, ' ', (size_t)(s + len - sp - 1)))
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s is not two pieces separated by a space",
                            f->path, what);
        st = tlm_bpe_merge_add_text(tok, s, (uint64_t)(sp - s), sp + 1,
                                    (uint64_t)(s + len - sp - 1), (int32_t)i, f->path, what, err);
    }
    return st;
}

tlm_status tlm_tokenizer_from_gguf_bpe(const gguf_file *f, tlm_tokenizer **out, tlm_error *err)
{
    const gguf_kv *tokens, *types = NULL, *merges;
    tlm_status st = get_array(f, "tokenizer.ggml.tokens", GGUF_STRING, 0, &tokens, err);
    if (st != TLM_OK) return st;
    uint64_t n = tokens->v.arr.n;
    if (n < 1 || n > TLM_TOK_MAX_VOCAB)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tokenizer.ggml.tokens has %" PRIu64 " tokens, outside [1, %d]",
                        f->path, n, (int)TLM_TOK_MAX_VOCAB);
    if (tlm_gguf_find(f, "tokenizer.ggml.token_type")) {
        st = get_array(f, "tokenizer.ggml.token_type", GGUF_I32, n, &types, err);
        if (st != TLM_OK) return st;
    }
    st = get_array(f, "tokenizer.ggml.merges", GGUF_STRING, 0, &merges, err);
    if (st != TLM_OK) return st;

    tlm_tokenizer *tok = tlm_tok_alloc((int32_t)n);
    if (!tok)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " tokens", f->path, n);
    tok->kind = TLM_TOK_BPE;
    tok->special_by_default = true;
    for (int32_t id = 0; id < tok->n_vocab; id++) {
        tok->scores[id] = 0;
        tok->types[id] = TLM_TOK_NORMAL;
    }
    /* Byte-level vocabularies have no default special ids, and do not ask for BOS. */
    st = get_id(f, "tokenizer.ggml.bos_token_id", tok->n_vocab, -1, &tok->bos, err);
    if (st == TLM_OK)
        st = get_id(f, "tokenizer.ggml.eos_token_id", tok->n_vocab, -1, &tok->eos, err);
    if (st == TLM_OK)
        st = get_id(f, "tokenizer.ggml.unknown_token_id", tok->n_vocab, -1, &tok->unk, err);
    if (st == TLM_OK) st = get_flag(f, "tokenizer.ggml.add_bos_token", false, &tok->add_bos, err);
    if (st == TLM_OK && types) st = read_gguf_types(f, types, tok, err);
    if (st == TLM_OK) st = read_gguf_pieces(f, tokens, tok, err);
    if (st == TLM_OK) st = tlm_bytelevel_unpack(tok, f->path, err);
    if (st == TLM_OK) st = read_chat_template(f, tok, err);
    if (st == TLM_OK) st = read_pre(f, tok, err);
    if (st == TLM_OK) st = tlm_tokenizer_finish(tok, f->path, err);
    if (st == TLM_OK) st = read_merges(f, merges, tok, err);
    if (st == TLM_OK) read_arch(f, tok);
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}
