/* spmodel.c - a SentencePiece tokenizer.model (a serialized ModelProto), read without
 * a protobuf library: only the few fields the encoder needs are decoded, everything else is
 * skipped by its wire type.
 *
 *   ModelProto      1: pieces (repeated SentencePiece)   2: trainer_spec   3: normalizer_spec
 *   SentencePiece   1: piece (string)   2: score (float)   3: type (enum, default NORMAL)
 *   TrainerSpec     3: model_type (1 unigram, 2 BPE)   24: treat_whitespace_as_suffix
 *                   35: byte_fallback   40: unk_id   41: bos_id   42: eos_id
 *   NormalizerSpec  1: name   2: precompiled_charsmap   3: add_dummy_prefix (default true)
 *                   4: remove_extra_whitespaces (default true)   5: escape_whitespaces (true)
 *
 * Only BPE models with an identity normaliser (no precompiled character map) are accepted:
 * Llama-2, TinyLlama, MobileLLM, Phi-3 and Gemma are all of that kind. Added tokens beyond the
 * model's pieces (Phi-3's <|user|> ...) come from tokenizer_config.json / added_tokens.json
 * next to it when present, and so do the whitespace rules of added tokens. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer.h"

enum { MAX_MODEL_BYTES = 64 << 20, MAX_CONFIG_BYTES = 16 << 20 };

typedef struct pb {
    const uint8_t *p, *end;
    const uint8_t *base; /* start of the file, for offsets in messages */
} pb;

static bool varint(pb *b, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (b->p >= b->end) return false;
        uint8_t c = *b->p++;
        *v |= (uint64_t)(c & 0x7F) << shift;
        if (!(c & 0x80)) return true;
    }
    return false;
}

/* One field: its number and wire type; a length-delimited field's bytes in *sub. */
typedef struct field {
    uint32_t num, wire;
    uint64_t v;  /* varint or fixed value */
    pb sub;      /* wire type 2 */
    uint64_t at; /* file offset of the field's tag */
} field;

/* 1: a field read; 0: the end; -1: malformed. */
static int next_field(pb *b, field *f)
{
    if (b->p >= b->end) return 0;
    f->at = (uint64_t)(b->p - b->base);
    uint64_t tag;
    if (!varint(b, &tag) || tag >> 3 == 0 || tag >> 3 > UINT32_MAX) return -1;
    f->num = (uint32_t)(tag >> 3);
    f->wire = (uint32_t)(tag & 7);
    switch (f->wire) {
    case 0:
        return varint(b, &f->v) ? 1 : -1;
    case 1:
    case 5: {
        size_t n = f->wire == 1 ? 8 : 4;
        if ((size_t)(b->end - b->p) < n) return -1;
        f->v = 0;
        memcpy(&f->v, b->p, n); /* little-endian hosts only, as everywhere in libtinylm */
        b->p += n;
        return 1;
    }
    case 2: {
        uint64_t len;
        if (!varint(b, &len) || len > (uint64_t)(b->end - b->p)) return -1;
        f->sub = (pb){b->p, b->p + len, b->base};
        b->p += len;
        return 1;
    }
    default:
        return -1; /* groups (3, 4) are not used by SentencePiece */
    }
}

typedef struct spec {
    int64_t model_type, unk, bos, eos;
    bool byte_fallback, suffix_ws;
    bool dummy_prefix, remove_ws, escape_ws;
    uint64_t charsmap_len;
    char name[32];
} spec;

static tlm_status bad(const char *path, uint64_t at, const char *what, tlm_error *err)
{
    return tlm_fail(err, TLM_ERR_FORMAT, "%s: malformed protobuf %s at offset %" PRIu64, path, what,
                    at);
}

static tlm_status read_trainer(const char *path, pb b, spec *s, tlm_error *err)
{
    field f;
    int r;
    while ((r = next_field(&b, &f)) > 0) {
        bool v = f.wire == 0;
        if (f.num == 3 && v) s->model_type = (int64_t)f.v;
        if (f.num == 24 && v) s->suffix_ws = f.v != 0;
        if (f.num == 35 && v) s->byte_fallback = f.v != 0;
        /* int32 fields: negative values come as 64-bit two's complement varints */
        if (f.num == 40 && v) s->unk = (int64_t)f.v;
        if (f.num == 41 && v) s->bos = (int64_t)f.v;
        if (f.num == 42 && v) s->eos = (int64_t)f.v;
    }
    return r < 0 ? bad(path, (uint64_t)(b.p - b.base), "in trainer_spec", err) : TLM_OK;
}

static tlm_status read_normalizer(const char *path, pb b, spec *s, tlm_error *err)
{
    field f;
    int r;
    while ((r = next_field(&b, &f)) > 0) {
        if (f.num == 1 && f.wire == 2) {
            size_t n = (size_t)(f.sub.end - f.sub.p);
            if (n >= sizeof s->name) n = sizeof s->name - 1;
            memcpy(s->name, f.sub.p, n);
            s->name[n] = '\0';
        }
        if (f.num == 2 && f.wire == 2) s->charsmap_len = (uint64_t)(f.sub.end - f.sub.p);
        if (f.num == 3 && f.wire == 0) s->dummy_prefix = f.v != 0;
        if (f.num == 4 && f.wire == 0) s->remove_ws = f.v != 0;
        if (f.num == 5 && f.wire == 0) s->escape_ws = f.v != 0;
    }
    return r < 0 ? bad(path, (uint64_t)(b.p - b.base), "in normalizer_spec", err) : TLM_OK;
}

/* A SentencePiece message: its text, score and type. */
static tlm_status read_piece(const char *path, pb b, uint64_t at, const uint8_t **text,
                             uint64_t *len, float *score, uint8_t *type, tlm_error *err)
{
    field f;
    int r;
    *text = NULL;
    *len = 0;
    *score = 0;
    *type = TLM_TOK_NORMAL;
    while ((r = next_field(&b, &f)) > 0) {
        if (f.num == 1 && f.wire == 2) {
            *text = f.sub.p;
            *len = (uint64_t)(f.sub.end - f.sub.p);
        } else if (f.num == 2 && f.wire == 5) {
            uint32_t bits = (uint32_t)f.v;
            memcpy(score, &bits, 4);
        } else if (f.num == 3 && f.wire == 0) {
            if (f.v < TLM_TOK_NORMAL || f.v > TLM_TOK_BYTE)
                return tlm_fail(err, TLM_ERR_FORMAT,
                                "%s: piece at offset %" PRIu64 " has type %" PRIu64 ", not 1..6",
                                path, at, f.v);
            *type = (uint8_t)f.v;
        }
    }
    if (r < 0) return bad(path, at, "piece", err);
    if (!*text)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: piece at offset %" PRIu64 " has no text", path,
                        at);
    if (*len > TLM_TOK_MAX_PIECE)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: piece at offset %" PRIu64 " is over %d bytes",
                        path, at, (int)TLM_TOK_MAX_PIECE);
    if (isnan(*score))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: piece at offset %" PRIu64 " has a NaN score",
                        path, at);
    return TLM_OK;
}

/* First pass: count pieces and their bytes, read the specs. */
static tlm_status scan(const char *path, pb b, spec *s, int64_t *n, uint64_t *total, tlm_error *err)
{
    field f;
    int r;
    *n = 0;
    *total = 0;
    while ((r = next_field(&b, &f)) > 0) {
        tlm_status st = TLM_OK;
        if (f.num == 1 && f.wire == 2) {
            const uint8_t *t;
            uint64_t len;
            float score;
            uint8_t type;
            st = read_piece(path, f.sub, f.at, &t, &len, &score, &type, err);
            (*n)++;
            *total += len;
            if (st == TLM_OK && (*n > TLM_TOK_MAX_VOCAB || *total > TLM_TOK_MAX_TOTAL))
                st = tlm_fail(err, TLM_ERR_FORMAT, "%s: more than %d pieces or %d bytes of them",
                              path, (int)TLM_TOK_MAX_VOCAB, (int)TLM_TOK_MAX_TOTAL);
        } else if (f.num == 2 && f.wire == 2) {
            st = read_trainer(path, f.sub, s, err);
        } else if (f.num == 3 && f.wire == 2) {
            st = read_normalizer(path, f.sub, s, err);
        }
        if (st != TLM_OK) return st;
    }
    if (r < 0) return bad(path, (uint64_t)(b.p - b.base), "field", err);
    if (*n == 0)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: no pieces (not a SentencePiece model?)", path);
    return TLM_OK;
}

static tlm_status check_spec(const char *path, const spec *s, int64_t n, tlm_error *err)
{
    if (s->model_type != 2)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: trainer_spec.model_type %" PRId64 " is not "
                        "BPE (2); only SentencePiece BPE models are supported",
                        path, s->model_type);
    if (s->charsmap_len > 0)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: normalizer_spec \"%s\" has a precompiled "
                        "character map (%" PRIu64 " bytes); only the identity normaliser is "
                        "supported",
                        path, s->name, s->charsmap_len);
    if (s->suffix_ws || !s->escape_ws)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: treat_whitespace_as_suffix or "
                        "escape_whitespaces = false is not supported",
                        path);
    const int64_t ids[3] = {s->unk, s->bos, s->eos};
    const char *names[3] = {"unk_id", "bos_id", "eos_id"};
    for (int i = 0; i < 3; i++)
        if (ids[i] < -1 || ids[i] >= n)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: trainer_spec.%s = %" PRId64 " is not an id "
                            "of the %" PRId64 " pieces",
                            path, names[i], ids[i], n);
    return TLM_OK;
}

/* Second pass: pieces into the tokenizer. */
static void fill(pb b, tlm_tokenizer *tok, const char *path)
{
    field f;
    int32_t id = 0;
    while (next_field(&b, &f) > 0) {
        if (f.num != 1 || f.wire != 2) continue;
        const uint8_t *t;
        uint64_t len;
        float score;
        uint8_t type;
        read_piece(path, f.sub, f.at, &t, &len, &score, &type, NULL); /* checked in scan */
        memcpy(tok->text + tok->text_off[id], t, len);
        tok->text_off[id + 1] = tok->text_off[id] + (uint32_t)len;
        tok->scores[id] = score;
        tok->types[id] = type;
        id++;
    }
}

/* Added tokens after the pieces (Phi-3), from the JSON files beside the model if any:
 * added_tokens.json {"text": id} and tokenizer_config.json's added_tokens_decoder. */
typedef struct extras {
    int64_t n;     /* ids n_pieces .. n_pieces + n - 1 */
    char **text;   /* [n], NULL for a hole */
    uint8_t *type; /* [n] */
} extras;

static void extras_free(extras *x)
{
    for (int64_t i = 0; x->text && i < x->n; i++)
        free(x->text[i]);
    free(x->text);
    free(x->type);
}

/* Calls fn for each (id, text, special) the two files list. */
static void each_added(const cJSON *cfg, const cJSON *added,
                       void (*fn)(void *ctx, double id, const char *text, bool special), void *ctx)
{
    for (const cJSON *it = cJSON_IsObject(added) ? added->child : NULL; it; it = it->next)
        if (cJSON_IsNumber(it)) fn(ctx, it->valuedouble, it->string, false);
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
    for (const cJSON *it = cJSON_IsObject(dec) ? dec->child : NULL; it; it = it->next) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        bool special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
        char *end;
        double id = strtod(it->string, &end);
        if (cJSON_IsString(c) && *end == '\0') fn(ctx, id, c->valuestring, special);
    }
}

typedef struct extras_ctx {
    extras *x;
    int64_t n_pieces;
    bool fill, failed;
} extras_ctx;

static void on_added(void *vctx, double v, const char *text, bool special)
{
    extras_ctx *c = vctx;
    /* Entries for the model's own pieces change nothing; ids must be whole and in range
     * (tested so that NaN, from a key "nan", fails before the cast, which it would make
     * undefined). */
    if (!(v >= (double)c->n_pieces && v < (double)TLM_TOK_MAX_VOCAB) || v != (double)(int64_t)v ||
        strlen(text) > TLM_TOK_MAX_PIECE)
        return;
    int64_t i = (int64_t)v - c->n_pieces;
    if (!c->fill) {
        if (i + 1 > c->x->n) c->x->n = i + 1;
        return;
    }
    size_t len = strlen(text);
    char *copy = malloc(len + 1);
    if (!copy) {
        c->failed = true;
        return;
    }
    memcpy(copy, text, len + 1);
    free(c->x->text[i]);
    c->x->text[i] = copy;
    c->x->type[i] = special ? TLM_TOK_CONTROL : TLM_TOK_USER_DEFINED;
}

static bool read_extras(const cJSON *cfg, const cJSON *added, int64_t n_pieces, extras *x)
{
    extras_ctx c = {x, n_pieces, false, false};
    each_added(cfg, added, on_added, &c);
    if (x->n == 0) return true;
    x->text = calloc((size_t)x->n, sizeof *x->text);
    x->type = calloc((size_t)x->n, 1);
    if (!x->text || !x->type) return false;
    c.fill = true;
    each_added(cfg, added, on_added, &c);
    return !c.failed;
}

static cJSON *read_json(const char *dir, const char *name, char **buf)
{
    char path[4096];
    uint64_t len;
    *buf = NULL;
    if (!dir) return NULL;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat sb;
    if (stat(path, &sb) != 0 ||
        tlm_tok_read_file(path, MAX_CONFIG_BYTES, buf, &len, NULL) != TLM_OK)
        return NULL;
    return cJSON_ParseWithLength(*buf, (size_t)len);
}

/* The whitespace rules tokenizer_config.json's added_tokens_decoder declares (Phi-3: rstrip on
 * its role tokens and </s>), for the model's own pieces too. `normalized` is not kept: the
 * SentencePiece normaliser of HF's tokenizer.json (Prepend "▁") is not applied to added
 * tokens here, so every one is matched on the raw text (docs/tokenizers.md). */
static void apply_flags(tlm_tokenizer *tok, const cJSON *cfg)
{
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
    for (const cJSON *it = cJSON_IsObject(dec) ? dec->child : NULL; it; it = it->next) {
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
        char *end;
        long long id = strtoll(it->string, &end, 10);
        if (!cJSON_IsString(c) || !*it->string || *end || id < 0 || id >= tok->n_vocab) continue;
        size_t n = strlen(c->valuestring);
        if (tok->text_off[id + 1] - tok->text_off[id] != n ||
            memcmp(tok->text + tok->text_off[id], c->valuestring, n) != 0)
            continue; /* not the token the file names */
        bool special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "special"));
        tok->attrs[id] = tlm_tok_added_attrs(it, special) & (uint8_t)~TLM_ADDED_NORMALIZED;
    }
}

/* Appends the extra tokens after the model's pieces (total: bytes of those pieces). */
static tlm_status append_extras(tlm_tokenizer *tok, int64_t n_pieces, const extras *x,
                                uint64_t total, const char *path, tlm_error *err)
{
    uint64_t more = 0;
    for (int64_t i = 0; i < x->n; i++)
        more += x->text[i] ? strlen(x->text[i]) : 0;
    if (total + more > TLM_TOK_MAX_TOTAL)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: added tokens exceed the size cap", path);
    char *t = realloc(tok->text, total + more + 1);
    if (!t) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for added tokens", path);
    tok->text = t;
    for (int64_t i = 0; i < x->n; i++) {
        int64_t id = n_pieces + i;
        size_t len = x->text[i] ? strlen(x->text[i]) : 0;
        if (len) memcpy(tok->text + tok->text_off[id], x->text[i], len);
        tok->text_off[id + 1] = tok->text_off[id] + (uint32_t)len;
        tok->types[id] = x->text[i] ? x->type[i] : TLM_TOK_UNUSED; /* a hole between ids */
        tok->scores[id] = 0;
    }
    return TLM_OK;
}

tlm_status tlm_tokenizer_load_spmodel(const char *path, const char *dir, tlm_tokenizer **out,
                                      tlm_error *err)
{
    *out = NULL;
    char *buf = NULL, *cbuf = NULL, *abuf = NULL;
    uint64_t len;
    tlm_status st = tlm_tok_read_file(path, MAX_MODEL_BYTES, &buf, &len, err);
    if (st != TLM_OK) return st;
    pb b = {(const uint8_t *)buf, (const uint8_t *)buf + len, (const uint8_t *)buf};
    spec s = {.model_type = 1,
              .unk = 0,
              .bos = 1,
              .eos = 2,
              .dummy_prefix = true,
              .remove_ws = true,
              .escape_ws = true};
    int64_t n = 0;
    uint64_t total = 0;
    tlm_tokenizer *tok = NULL;
    cJSON *cfg = read_json(dir, "tokenizer_config.json", &cbuf);
    cJSON *added = read_json(dir, "added_tokens.json", &abuf);
    st = scan(path, b, &s, &n, &total, err);
    if (st == TLM_OK) st = check_spec(path, &s, n, err);
    extras x = {0};
    if (st == TLM_OK && !read_extras(cfg, added, n, &x))
        st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for added tokens", path);
    if (st == TLM_OK && n + x.n > TLM_TOK_MAX_VOCAB)
        st = tlm_fail(err, TLM_ERR_FORMAT, "%s: added tokens go past id %d", path,
                      (int)TLM_TOK_MAX_VOCAB);
    if (st == TLM_OK && !(tok = tlm_tok_alloc((int32_t)(n + x.n))))
        st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRId64 " pieces", path, n);
    if (st == TLM_OK && !(tok->text = malloc(total + 1)))
        st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", path);
    if (st == TLM_OK) {
        fill(b, tok, path);
        st = append_extras(tok, n, &x, total, path, err);
    }
    extras_free(&x);
    if (st == TLM_OK) {
        tok->kind = TLM_TOK_SPM;
        tok->space_is_u2581 = true;
        tok->invalid_utf8_fffd = true;
        tok->unk = (int32_t)s.unk;
        tok->bos = (int32_t)s.bos;
        tok->eos = (int32_t)s.eos;
        tok->add_space_prefix = s.dummy_prefix;
        tok->remove_extra_ws = s.remove_ws;
        tok->add_bos = true; /* SentencePiece models are used with BOS unless a config says not */
        const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
        if (cJSON_IsBool(ab)) tok->add_bos = cJSON_IsTrue(ab);
        const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
        if (cJSON_IsString(tpl)) {
            size_t tl = strlen(tpl->valuestring);
            tok->chat_template = malloc(tl + 1);
            if (tok->chat_template) memcpy(tok->chat_template, tpl->valuestring, tl + 1);
        }
        /* Without byte_fallback SentencePiece never emits <0xNN>: unknown text is <unk>. */
        if (!s.byte_fallback)
            for (int32_t id = 0; id < tok->n_vocab; id++)
                if (tok->types[id] == TLM_TOK_BYTE) tok->types[id] = TLM_TOK_UNUSED;
        apply_flags(tok, cfg);
        st = tlm_tokenizer_finish(tok, path, err);
    }
    /* tokenizer_config.json may name other special tokens (Phi-3: eos <|endoftext|>). */
    const char *keys[2] = {"bos_token", "eos_token"};
    for (int k = 0; st == TLM_OK && k < 2; k++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(cfg, keys[k]);
        const cJSON *c = cJSON_IsObject(it) ? cJSON_GetObjectItemCaseSensitive(it, "content") : it;
        int32_t id = cJSON_IsString(c) ? tlm_tokenizer_find(tok, c->valuestring) : -1;
        if (id >= 0) *(k == 0 ? &tok->bos : &tok->eos) = id;
    }
    cJSON_Delete(cfg);
    cJSON_Delete(added);
    free(cbuf);
    free(abuf);
    free(buf);
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}
