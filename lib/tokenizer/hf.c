/* hf.c - byte-level BPE from Hugging Face files: tokenizer.json (model.vocab,
 * model.merges, added_tokens, normalizer, pre_tokenizer), or vocab.json + merges.txt
 * (+ added_tokens.json), each with tokenizer_config.json / special_tokens_map.json beside it
 * for the special tokens, add_bos_token and the chat template. Added tokens keep the flags
 * their file declares (lstrip, rstrip, single_word, normalized: tokenizer.h TLM_ADDED_*).
 *
 * Only what a byte-level BPE needs is accepted; anything that would change the result and is
 * not implemented (another normalizer, a pre-tokenizer other than ByteLevel / a regex Split,
 * byte_fallback, subword prefixes) is refused with TLM_ERR_UNSUPPORTED naming the key. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer.h"

enum {
    MAX_JSON_BYTES = 64 << 20,   /* Qwen2's tokenizer.json is 7 MB */
    MAX_CONFIG_BYTES = 16 << 20, /* tokenizer_config.json with a long template */
};

/* One (id, text) the vocabulary will hold; text points into parsed JSON or a file buffer. */
typedef struct entry {
    int32_t id;
    uint8_t type, attrs; /* attrs: TLM_ADDED_* of an added token */
    uint32_t len;
    const char *text;
} entry;

typedef struct builder {
    const char *src; /* the file named in messages */
    tlm_error *err;
    entry *e;
    int64_t n, cap;
    int64_t max_id;
    /* From the files; NULL when not given. */
    const char *bos, *eos, *unk;
    bool add_bos, prefix_space, nfc;
    const char *pattern;  /* pre-tokenizer regex */
    const char *template; /* chat template */
    bool ignore_merges;
} builder;

static tlm_status add_entry(builder *b, int64_t id, const char *text, size_t len, uint8_t type,
                            uint8_t attrs, const char *what)
{
    if (id < 0 || id >= TLM_TOK_MAX_VOCAB)
        return tlm_fail(b->err, TLM_ERR_FORMAT,
                        "%s: %s \"%.40s\" has id %" PRId64 ", outside [0, %d)", b->src, what, text,
                        id, (int)TLM_TOK_MAX_VOCAB);
    if (len > TLM_TOK_MAX_PIECE)
        return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: %s with id %" PRId64 " is over %d bytes",
                        b->src, what, id, (int)TLM_TOK_MAX_PIECE);
    if (b->n == b->cap) {
        int64_t cap = b->cap ? 2 * b->cap : 1024;
        entry *e = realloc(b->e, (size_t)cap * sizeof *e);
        if (!e)
            return tlm_fail(b->err, TLM_ERR_NO_MEMORY, "%s: no memory for the vocabulary", b->src);
        b->e = e;
        b->cap = cap;
    }
    b->e[b->n++] = (entry){(int32_t)id, type, attrs, (uint32_t)len, text};
    if (id > b->max_id) b->max_id = id;
    return TLM_OK;
}

/* A JSON number that is a whole id. */
static bool json_id(const cJSON *it, int64_t *id)
{
    if (!cJSON_IsNumber(it)) return false;
    double v = it->valuedouble;
    if (v < 0 || v >= (double)TLM_TOK_MAX_VOCAB || v != (double)(int64_t)v) return false;
    *id = (int64_t)v;
    return true;
}

static tlm_status add_vocab_object(builder *b, const cJSON *vocab, const char *what)
{
    if (!cJSON_IsObject(vocab))
        return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: %s is not an object", b->src, what);
    for (const cJSON *it = vocab->child; it; it = it->next) {
        int64_t id;
        if (!json_id(it, &id))
            return tlm_fail(b->err, TLM_ERR_FORMAT,
                            "%s: %s entry \"%.40s\" is not an id in "
                            "[0, %d)",
                            b->src, what, it->string, (int)TLM_TOK_MAX_VOCAB);
        tlm_status st = add_entry(b, id, it->string, strlen(it->string), TLM_TOK_NORMAL, 0, what);
        if (st != TLM_OK) return st;
    }
    return TLM_OK;
}

/* A flag of an added token: the JSON bool, or dflt when absent. */
static bool flag(const cJSON *t, const char *key, bool dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, key);
    return cJSON_IsBool(v) ? cJSON_IsTrue(v) : dflt;
}

/* The TLM_ADDED_* of an added token object ({"lstrip", "rstrip", "single_word", "normalized"},
 * each defaulting as in HF's AddedToken: false, and normalized = !special). */
uint8_t tlm_tok_added_attrs(const cJSON *t, bool special)
{
    return (uint8_t)((flag(t, "lstrip", false) ? TLM_ADDED_LSTRIP : 0) |
                     (flag(t, "rstrip", false) ? TLM_ADDED_RSTRIP : 0) |
                     (flag(t, "single_word", false) ? TLM_ADDED_SINGLE_WORD : 0) |
                     (flag(t, "normalized", !special) ? TLM_ADDED_NORMALIZED : 0));
}

/* One added token {"id"?, "content", "special", flags}; id_key gives the id when it is a key. */
static tlm_status add_added(builder *b, const cJSON *t, const char *id_key, const char *what)
{
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(t, "content");
    const cJSON *special = cJSON_GetObjectItemCaseSensitive(t, "special");
    int64_t id = -1;
    if (id_key) {
        char *end;
        long long v = strtoll(id_key, &end, 10);
        if (*id_key && !*end) id = v;
    } else if (!json_id(cJSON_GetObjectItemCaseSensitive(t, "id"), &id)) {
        id = -1;
    }
    if (id < 0 || !cJSON_IsString(content))
        return tlm_fail(b->err, TLM_ERR_FORMAT,
                        "%s: an entry of %s lacks an id or a content "
                        "string",
                        b->src, what);
    bool sp = cJSON_IsTrue(special);
    return add_entry(b, id, content->valuestring, strlen(content->valuestring),
                     sp ? TLM_TOK_CONTROL : TLM_TOK_USER_DEFINED, tlm_tok_added_attrs(t, sp), what);
}

/* A special-token field: "text", {"content": "text"} or null. */
static const char *token_text(const cJSON *it)
{
    if (cJSON_IsString(it)) return it->valuestring;
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(it, "content");
    return cJSON_IsString(c) ? c->valuestring : NULL;
}

/* ---- tokenizer_config.json, special_tokens_map.json, added_tokens.json ----------------- */

typedef struct side_files {
    char *buf[3];
    cJSON *json[3]; /* tokenizer_config.json, special_tokens_map.json, added_tokens.json */
    char path[3][4096];
} side_files;

static const char *const side_names[3] = {"tokenizer_config.json", "special_tokens_map.json",
                                          "added_tokens.json"};

static void side_free(side_files *s)
{
    for (int i = 0; i < 3; i++) {
        cJSON_Delete(s->json[i]);
        free(s->buf[i]);
    }
}

/* Reads the side files found in dir (none when dir is NULL); a malformed one is an error. */
static tlm_status side_read(side_files *s, const char *dir, tlm_error *err)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < 3 && dir; i++) {
        snprintf(s->path[i], sizeof s->path[i], "%s/%s", dir, side_names[i]);
        if (!tlm_tok_is_file(s->path[i])) continue;
        uint64_t len;
        tlm_status st = tlm_tok_read_file(s->path[i], MAX_CONFIG_BYTES, &s->buf[i], &len, err);
        if (st != TLM_OK) return st;
        s->json[i] = cJSON_ParseWithLength(s->buf[i], (size_t)len);
        if (!cJSON_IsObject(s->json[i]))
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: not a JSON object", s->path[i]);
    }
    return TLM_OK;
}

/* What the side files say: added tokens (as entries), special tokens, BOS rule, template. */
static tlm_status side_apply(builder *b, const side_files *s)
{
    const cJSON *cfg = s->json[0], *map = s->json[1], *added = s->json[2];
    const char *src = b->src;
    tlm_status st = TLM_OK;
    if (added) { /* {"text": id} */
        b->src = s->path[2];
        for (const cJSON *it = added->child; it && st == TLM_OK; it = it->next) {
            int64_t id;
            if (!json_id(it, &id))
                return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: \"%.40s\" is not an id", b->src,
                                it->string);
            /* transformers adds these as non-special AddedTokens: normalized, no strip */
            st = add_entry(b, id, it->string, strlen(it->string), TLM_TOK_USER_DEFINED,
                           TLM_ADDED_NORMALIZED, "added token");
        }
    }
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(cfg, "added_tokens_decoder");
    b->src = s->path[0];
    for (const cJSON *it = cJSON_IsObject(dec) ? dec->child : NULL; it && st == TLM_OK;
         it = it->next)
        st = add_added(b, it, it->string, "added_tokens_decoder");
    b->src = src;
    if (st != TLM_OK) return st;
    const char *keys[3] = {"bos_token", "eos_token", "unk_token"};
    const char **dst[3] = {&b->bos, &b->eos, &b->unk};
    for (int k = 0; k < 3; k++) {
        const char *t = token_text(cJSON_GetObjectItemCaseSensitive(cfg, keys[k]));
        if (!t) t = token_text(cJSON_GetObjectItemCaseSensitive(map, keys[k]));
        if (t) *dst[k] = t;
    }
    const cJSON *ab = cJSON_GetObjectItemCaseSensitive(cfg, "add_bos_token");
    if (cJSON_IsBool(ab)) b->add_bos = cJSON_IsTrue(ab);
    const cJSON *tpl = cJSON_GetObjectItemCaseSensitive(cfg, "chat_template");
    if (cJSON_IsString(tpl)) {
        b->template = tpl->valuestring;
    } else if (cJSON_IsArray(tpl)) { /* [{"name": ..., "template": ...}]: the "default" one */
        for (const cJSON *it = tpl->child; it; it = it->next) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(it, "template");
            if (cJSON_IsString(text) &&
                (!b->template || (cJSON_IsString(name) && !strcmp(name->valuestring, "default"))))
                b->template = text->valuestring;
        }
    }
    return TLM_OK;
}

/* ---- building the tokenizer ----------------------------------------------------------- */

/* The id whose piece is exactly text (any type), or -1; before the tables exist. */
static int32_t find_text(const tlm_tokenizer *tok, const char *text)
{
    size_t len = strlen(text);
    for (int32_t id = 0; id < tok->n_vocab; id++)
        if (tok->text_off[id + 1] - tok->text_off[id] == len &&
            memcmp(tok->text + tok->text_off[id], text, len) == 0)
            return id;
    return -1;
}

static tlm_status special_id(builder *b, tlm_tokenizer *tok, const char *text, const char *key,
                             int32_t *out)
{
    if (!text) return TLM_OK;
    int32_t id = find_text(tok, text);
    if (id < 0)
        return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: %s \"%.40s\" is not in the vocabulary", b->src,
                        key, text);
    *out = id;
    if (tok->types[id] == TLM_TOK_NORMAL) tok->types[id] = TLM_TOK_CONTROL; /* HF splits it out */
    return TLM_OK;
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

/* Pieces, types and flags from the entries; merges are added by the caller afterwards. */
static tlm_status build(builder *b, tlm_tokenizer **out)
{
    *out = NULL;
    if (b->n == 0) return tlm_fail(b->err, TLM_ERR_FORMAT, "%s: the vocabulary is empty", b->src);
    tlm_tokenizer *tok = tlm_tok_alloc((int32_t)(b->max_id + 1));
    int32_t *pick = tok ? malloc((size_t)tok->n_vocab * sizeof *pick) : NULL;
    if (tok) tok->special_by_default = true; /* tokenizer(text) matches special tokens */
    if (!pick) {
        tlm_tokenizer_free(tok);
        return tlm_fail(b->err, TLM_ERR_NO_MEMORY, "%s: no memory for the vocabulary", b->src);
    }
    /* Later entries (added tokens) override earlier ones (the base vocabulary). */
    for (int32_t id = 0; id < tok->n_vocab; id++)
        pick[id] = -1;
    for (int64_t i = 0; i < b->n; i++)
        pick[b->e[i].id] = (int32_t)i;
    uint64_t total = 0;
    for (int32_t id = 0; id < tok->n_vocab; id++)
        total += pick[id] >= 0 ? b->e[pick[id]].len : 0;
    tlm_status st = TLM_OK;
    if (total > TLM_TOK_MAX_TOTAL)
        st = tlm_fail(b->err, TLM_ERR_FORMAT, "%s: pieces exceed %d bytes in total", b->src,
                      (int)TLM_TOK_MAX_TOTAL);
    tok->text = st == TLM_OK ? malloc(total + 1) : NULL;
    if (st == TLM_OK && !tok->text)
        st = tlm_fail(b->err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", b->src);
    uint32_t at = 0;
    for (int32_t id = 0; st == TLM_OK && id < tok->n_vocab; id++) {
        const entry *e = pick[id] >= 0 ? &b->e[pick[id]] : NULL;
        tok->scores[id] = 0;
        tok->types[id] = e ? e->type : TLM_TOK_UNUSED; /* a hole in the ids */
        tok->attrs[id] = e ? e->attrs : 0;
        if (e) memcpy(tok->text + at, e->text, e->len);
        at += e ? e->len : 0;
        tok->text_off[id + 1] = at;
    }
    free(pick);
    tok->kind = TLM_TOK_BPE;
    tok->add_bos = b->add_bos;
    tok->prefix_space = b->prefix_space;
    tok->nfc = b->nfc;
    tok->ignore_merges = b->ignore_merges;
    if (st == TLM_OK) st = tlm_bytelevel_unpack(tok, b->src, b->err);
    if (st == TLM_OK) st = special_id(b, tok, b->bos, "bos_token", &tok->bos);
    if (st == TLM_OK) st = special_id(b, tok, b->eos, "eos_token", &tok->eos);
    if (st == TLM_OK) st = special_id(b, tok, b->unk, "unk_token", &tok->unk);
    if (st == TLM_OK && b->template && !(tok->chat_template = dup_str(b->template)))
        st = tlm_fail(b->err, TLM_ERR_NO_MEMORY, "%s: no memory for the chat template", b->src);
    if (st == TLM_OK) st = tlm_pretok_compile(b->pattern, &tok->pretok, b->src, b->err);
    if (st == TLM_OK) st = tlm_tokenizer_finish(tok, b->src, b->err);
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}

/* A merge "a b" (split at the first space, as byte-level pieces hold none). */
static tlm_status merge_line(tlm_tokenizer *tok, const char *s, size_t len, int32_t rank,
                             const char *src, const char *what, tlm_error *err)
{
    const char *sp = memchr(s, ' ', len);
    if (!sp || sp == s || sp == s + len - 1)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: %s \"%.40s\" is not two pieces separated by a "
                        "space",
                        src, what, s);
    return tlm_bpe_merge_add_text(tok, s, (uint64_t)(sp - s), sp + 1, (uint64_t)(s + len - sp - 1),
                                  rank, src, what, err);
}

/* ---- tokenizer.json ------------------------------------------------------------------- */

static tlm_status unsupported(builder *b, const char *key, const char *value)
{
    return tlm_fail(b->err, TLM_ERR_UNSUPPORTED,
                    "%s: %s \"%.40s\" is not supported (byte-level "
                    "BPE only; for a SentencePiece model load its tokenizer.model)",
                    b->src, key, value ? value : "?");
}

static const char *type_of(const cJSON *o)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "type");
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

static tlm_status read_normalizer(builder *b, const cJSON *n)
{
    if (!n || cJSON_IsNull(n)) return TLM_OK;
    const char *type = type_of(n);
    if (type && !strcmp(type, "NFC")) {
        b->nfc = true;
        return TLM_OK;
    }
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(n, "normalizers");
        for (const cJSON *it = cJSON_IsArray(list) ? list->child : NULL; it; it = it->next) {
            tlm_status st = read_normalizer(b, it);
            if (st != TLM_OK) return st;
        }
        return TLM_OK;
    }
    return unsupported(b, "normalizer", type);
}

static tlm_status read_pre_tokenizer(builder *b, const cJSON *p)
{
    const char *type = type_of(p);
    if (type && !strcmp(type, "ByteLevel")) {
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(p, "use_regex");
        if (!cJSON_IsFalse(re)) {
            if (b->pattern) return unsupported(b, "pre_tokenizer", "two regexes");
            b->pattern = tlm_pretok_pattern("gpt-2", NULL);
        }
        b->prefix_space = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "add_prefix_space"));
        return TLM_OK;
    }
    if (type && !strcmp(type, "Split")) {
        const cJSON *pat = cJSON_GetObjectItemCaseSensitive(p, "pattern");
        const cJSON *re = cJSON_GetObjectItemCaseSensitive(pat, "Regex");
        const cJSON *beh = cJSON_GetObjectItemCaseSensitive(p, "behavior");
        if (!cJSON_IsString(re)) return unsupported(b, "pre_tokenizer Split pattern", "String");
        if (!cJSON_IsString(beh) || strcmp(beh->valuestring, "Isolated") != 0)
            return unsupported(b, "pre_tokenizer Split behavior",
                               cJSON_IsString(beh) ? beh->valuestring : NULL);
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(p, "invert")))
            return unsupported(b, "pre_tokenizer Split", "invert");
        if (b->pattern) return unsupported(b, "pre_tokenizer", "two regexes");
        b->pattern = re->valuestring;
        return TLM_OK;
    }
    if (type && !strcmp(type, "Sequence")) {
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(p, "pretokenizers");
        for (const cJSON *it = cJSON_IsArray(list) ? list->child : NULL; it; it = it->next) {
            tlm_status st = read_pre_tokenizer(b, it);
            if (st != TLM_OK) return st;
        }
        return TLM_OK;
    }
    return unsupported(b, "pre_tokenizer", type);
}

static tlm_status read_model(builder *b, const cJSON *model)
{
    const char *type = type_of(model);
    if (!type || strcmp(type, "BPE") != 0) return unsupported(b, "model.type", type);
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")))
        return unsupported(b, "model.byte_fallback", "true");
    const char *affix[2] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(model, affix[i]);
        if (cJSON_IsString(a) && a->valuestring[0]) return unsupported(b, affix[i], a->valuestring);
    }
    b->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    return add_vocab_object(b, cJSON_GetObjectItemCaseSensitive(model, "vocab"), "model.vocab");
}

static tlm_status json_merges(tlm_tokenizer *tok, const cJSON *merges, const char *src,
                              tlm_error *err)
{
    int n = cJSON_GetArraySize(merges);
    tlm_status st = tlm_bpe_merges_init(tok, (uint64_t)n, src, err);
    int32_t rank = 0;
    for (const cJSON *it = merges ? merges->child : NULL; it && st == TLM_OK; it = it->next) {
        char what[64];
        snprintf(what, sizeof what, "model.merges[%d]", (int)rank);
        if (cJSON_IsString(it)) {
            st = merge_line(tok, it->valuestring, strlen(it->valuestring), rank, src, what, err);
        } else if (cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 && cJSON_IsString(it->child) &&
                   cJSON_IsString(it->child->next)) {
            const char *a = it->child->valuestring, *c = it->child->next->valuestring;
            st = tlm_bpe_merge_add_text(tok, a, strlen(a), c, strlen(c), rank, src, what, err);
        } else {
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: %s is neither \"a b\" nor [\"a\", \"b\"]", src,
                          what);
        }
        rank++;
    }
    return st;
}

tlm_status tlm_tokenizer_load_hf_json(const char *path, const char *dir, tlm_tokenizer **out,
                                      tlm_error *err)
{
    *out = NULL;
    char *buf = NULL;
    uint64_t len;
    cJSON *root = NULL;
    side_files side;
    builder b = {.src = path, .err = err, .max_id = -1};
    tlm_status st = side_read(&side, dir, err);
    if (st == TLM_OK) st = tlm_tok_read_file(path, MAX_JSON_BYTES, &buf, &len, err);
    if (st == TLM_OK) {
        root = cJSON_ParseWithLength(buf, (size_t)len);
        if (!cJSON_IsObject(root))
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: not a JSON object", path);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (st == TLM_OK) st = read_model(&b, model);
    if (st == TLM_OK)
        st = read_normalizer(&b, cJSON_GetObjectItemCaseSensitive(root, "normalizer"));
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    if (st == TLM_OK && pre && !cJSON_IsNull(pre)) st = read_pre_tokenizer(&b, pre);
    if (st == TLM_OK && !b.pattern) st = unsupported(&b, "pre_tokenizer", "without a regex");
    if (st == TLM_OK) st = side_apply(&b, &side);
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    for (const cJSON *it = cJSON_IsArray(added) ? added->child : NULL; it && st == TLM_OK;
         it = it->next)
        st = add_added(&b, it, NULL, "added_tokens");
    tlm_tokenizer *tok = NULL;
    if (st == TLM_OK) st = build(&b, &tok);
    if (st == TLM_OK)
        st = json_merges(tok, cJSON_GetObjectItemCaseSensitive(model, "merges"), path, err);
    if (st != TLM_OK)
        tlm_tokenizer_free(tok);
    else
        *out = tok;
    free(b.e);
    cJSON_Delete(root);
    free(buf);
    side_free(&side);
    return st;
}

/* ---- vocab.json + merges.txt ---------------------------------------------------------- */

/* The pre-tokenizer a slow tokenizer class uses (transformers' own classes). */
static tlm_status class_regex(builder *b, const side_files *side)
{
    const cJSON *cls = cJSON_GetObjectItemCaseSensitive(side->json[0], "tokenizer_class");
    if (!side->json[0] || !cJSON_IsString(cls)) { /* no config: plain GPT-2 files */
        b->pattern = tlm_pretok_pattern("gpt-2", NULL);
        return TLM_OK;
    }
    static const char *const gpt2[] = {"GPT2Tokenizer", "GPT2TokenizerFast", "CodeGenTokenizer",
                                       "CodeGenTokenizerFast"};
    static const char *const qwen2[] = {"Qwen2Tokenizer", "Qwen2TokenizerFast"};
    for (size_t i = 0; i < sizeof gpt2 / sizeof gpt2[0]; i++)
        if (!strcmp(cls->valuestring, gpt2[i])) b->pattern = tlm_pretok_pattern("gpt-2", NULL);
    for (size_t i = 0; i < sizeof qwen2 / sizeof qwen2[0]; i++)
        if (!strcmp(cls->valuestring, qwen2[i])) {
            b->pattern = tlm_pretok_pattern("qwen2", NULL);
            b->nfc = true; /* Qwen2Tokenizer normalises to NFC */
        }
    if (!b->pattern)
        return tlm_fail(b->err, TLM_ERR_UNSUPPORTED,
                        "%s: tokenizer_class \"%.40s\" is not known "
                        "to libtinylm (its pre-tokenizer is unknown)",
                        side->path[0], cls->valuestring);
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(side->json[0], "add_prefix_space");
    b->prefix_space = cJSON_IsTrue(ps);
    return TLM_OK;
}

static tlm_status merges_txt(tlm_tokenizer *tok, char *text, uint64_t len, const char *path,
                             tlm_error *err)
{
    uint64_t n_lines = 1;
    for (uint64_t i = 0; i < len; i++)
        n_lines += text[i] == '\n';
    if (n_lines > INT32_MAX) return tlm_fail(err, TLM_ERR_FORMAT, "%s: too many lines", path);
    tlm_status st = tlm_bpe_merges_init(tok, n_lines, path, err);
    int32_t rank = 0;
    uint64_t line_no = 0;
    for (uint64_t at = 0; at < len && st == TLM_OK;) {
        char *nl = memchr(text + at, '\n', len - at);
        uint64_t end = nl ? (uint64_t)(nl - text) : len, n = end - at;
        line_no++;
        if (n > 0 && text[at + n - 1] == '\r') n--;
        /* The first line may name the format ("#version: 0.2"); empty lines are skipped. */
        if (n > 0 && !(line_no == 1 && n >= 8 && !memcmp(text + at, "#version", 8))) {
            char what[64];
            snprintf(what, sizeof what, "line %" PRIu64, line_no);
            text[at + n] = '\0';
            st = merge_line(tok, text + at, n, rank++, path, what, err);
        }
        at = end + 1;
    }
    return st;
}

tlm_status tlm_tokenizer_load_vocab_merges(const char *vocab_path, const char *merges_path,
                                           const char *dir, tlm_tokenizer **out, tlm_error *err)
{
    *out = NULL;
    char *vbuf = NULL, *mbuf = NULL;
    uint64_t vlen, mlen;
    cJSON *vocab = NULL;
    side_files side;
    builder b = {.src = vocab_path, .err = err, .max_id = -1};
    tlm_status st = side_read(&side, dir, err);
    if (st == TLM_OK) st = class_regex(&b, &side);
    if (st == TLM_OK) st = tlm_tok_read_file(vocab_path, MAX_JSON_BYTES, &vbuf, &vlen, err);
    if (st == TLM_OK) st = tlm_tok_read_file(merges_path, MAX_JSON_BYTES, &mbuf, &mlen, err);
    if (st == TLM_OK) {
        vocab = cJSON_ParseWithLength(vbuf, (size_t)vlen);
        if (!cJSON_IsObject(vocab))
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: not a JSON object", vocab_path);
    }
    if (st == TLM_OK) st = add_vocab_object(&b, vocab, "vocab.json");
    if (st == TLM_OK) st = side_apply(&b, &side);
    tlm_tokenizer *tok = NULL;
    if (st == TLM_OK) st = build(&b, &tok);
    if (st == TLM_OK) st = merges_txt(tok, mbuf, mlen, merges_path, err);
    if (st != TLM_OK)
        tlm_tokenizer_free(tok);
    else
        *out = tok;
    free(b.e);
    cJSON_Delete(vocab);
    free(vbuf);
    free(mbuf);
    side_free(&side);
    return st;
}
