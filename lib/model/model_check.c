/* model_check.c - tlm_model_check: validates a model file completely and says in plain words
 * what is wrong. The structure is the loader's (it checks every header field, count, offset
 * and tensor as it binds the weights); on top of that come the vocabulary the file carries or
 * that lies beside it, the vocabulary against the embedding, each tensor's bytes against the
 * file, and optionally every stored value (NaN/Inf in elements or block scales). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checked.h"
#include "ds.h"
#include "gguf_read.h"
#include "model.h"
#include "safetensors_read.h"

tlm_check_params tlm_check_default_params(void)
{
    return (tlm_check_params){.scan_values = false, .report = NULL, .user = NULL};
}

typedef struct checker {
    const char *path;
    const tlm_check_params *p;
    tlm_error *err;
    tlm_status st; /* the first problem's status */
    int n_errors, n_warnings;
} checker;

/* One line of the report; an ERROR line also makes `st` the result, if it is the first. */
static void note(checker *c, tlm_check_level level, tlm_status st, const char *fmt, ...)
    TLM_PRINTF(4, 5);
static void note(checker *c, tlm_check_level level, tlm_status st, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (c->p->report) c->p->report(c->p->user, level, msg);
    if (level == TLM_CHECK_WARNING) c->n_warnings++;
    if (level != TLM_CHECK_ERROR) return;
    c->n_errors++;
    if (c->st == TLM_OK) c->st = tlm_fail(c->err, st, "%s", msg);
}

#define say(c, level, ...) note(c, level, TLM_ERR_FORMAT, __VA_ARGS__)

/* What a failed load means, for a reader who does not know the format. */
static const char *explain(tlm_status st)
{
    switch (st) {
    case TLM_ERR_FORMAT:
        return "the file is damaged or is not what its header says: a count, size, offset or "
               "type in it does not match its contents (a truncated download or a broken "
               "converter)";
    case TLM_ERR_UNSUPPORTED:
        return "the file is well-formed, but it uses an architecture, feature or type this "
               "version of libtinylm does not run";
    case TLM_ERR_IO:
        return "the file could not be opened, read or mapped";
    case TLM_ERR_NO_MEMORY:
        return "there was not enough memory to load it";
    default:
        return "the arguments were wrong";
    }
}

/* ---- value scan ------------------------------------------------------------------------ */

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static bool f16_bad(uint16_t h) { return (h & 0x7c00) == 0x7c00; } /* exponent all ones */
static bool bf16_bad(uint16_t h) { return (h & 0x7f80) == 0x7f80; }

/* Where the f16 scales of one block of a quantized type sit (byte offsets; -1: none). */
static void scale_offsets(tlm_type t, int *a, int *b)
{
    *a = *b = -1;
    switch (t) {
    case TLM_TYPE_Q8_0:
    case TLM_TYPE_Q4_0:
    case TLM_TYPE_Q5_0:
    case TLM_TYPE_IQ4_NL:
    case TLM_TYPE_IQ4_XS:
        *a = 0;
        break; /* d, then the quants */
    case TLM_TYPE_Q4_1:
    case TLM_TYPE_Q5_1:
        *a = 0, *b = 2;
        break; /* d, m, ... */
    case TLM_TYPE_Q4_K:
    case TLM_TYPE_Q5_K:
        *a = 0, *b = 2;
        break; /* d, dmin, ... */
    case TLM_TYPE_Q2_K:
        *a = 80, *b = 82;
        break; /* scales, qs, d, dmin */
    case TLM_TYPE_Q3_K:
        *a = 108;
        break; /* hmask, qs, scales, d */
    case TLM_TYPE_Q6_K:
        *a = 208;
        break; /* ql, qh, scales, d */
    default:
        break;
    }
}

/* Scans one tensor; reports its first non-finite value and how many there are. */
static void scan_tensor(checker *c, const tlm_tensor *t, const char *where)
{
    const tlm_type_traits *tr = tlm_type_get(t->type);
    const uint8_t *d = t->data;
    uint64_t n_bad = 0, first = 0;
    int64_t n = tlm_tensor_nelem(t);
    const char *kind = "value";
    if (t->type == TLM_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, d + 4 * i, 4);
            if (v - v != 0.0f && n_bad++ == 0) first = (uint64_t)i; /* NaN or Inf */
        }
    } else if (t->type == TLM_TYPE_F16 || t->type == TLM_TYPE_BF16) {
        bool (*bad)(uint16_t) = t->type == TLM_TYPE_F16 ? f16_bad : bf16_bad;
        for (int64_t i = 0; i < n; i++)
            if (bad(get_u16(d + 2 * i)) && n_bad++ == 0) first = (uint64_t)i;
    } else {
        int a, b;
        scale_offsets(t->type, &a, &b);
        if (a < 0 || !tr) {
            say(c, TLM_CHECK_WARNING, "%s: tensor '%s' (%s): values not scanned", where, t->name,
                tr ? tr->name : "?");
            return;
        }
        kind = "block scale";
        int64_t blocks = n / tr->block_elems;
        for (int64_t k = 0; k < blocks; k++) {
            const uint8_t *blk = d + (uint64_t)k * (uint64_t)tr->block_bytes;
            bool bad = f16_bad(get_u16(blk + a)) || (b >= 0 && f16_bad(get_u16(blk + b)));
            if (bad && n_bad++ == 0) first = (uint64_t)k;
        }
    }
    if (n_bad == 0) return;
    int64_t cols = t->ne[0];
    if (strcmp(kind, "value") == 0) {
        float v = 0.0f;
        if (t->type == TLM_TYPE_F32) memcpy(&v, d + 4 * first, 4);
        bool is_nan = t->type == TLM_TYPE_F32   ? v != v
                      : t->type == TLM_TYPE_F16 ? (get_u16(d + 2 * first) & 0x3ff) != 0
                                                : (get_u16(d + 2 * first) & 0x7f) != 0;
        say(c, TLM_CHECK_ERROR,
            "%s: tensor '%s' (%s): element %" PRIu64 " (row %" PRIu64 ", column %" PRIu64
            ") is %s; %" PRIu64 " of its %" PRId64 " values are NaN or Inf",
            where, t->name, tr->name, first, first / (uint64_t)cols, first % (uint64_t)cols,
            is_nan ? "NaN" : "infinite", n_bad, n);
    } else {
        say(c, TLM_CHECK_ERROR,
            "%s: tensor '%s' (%s): block %" PRIu64 " (elements %" PRIu64 "..%" PRIu64
            ") has a NaN or infinite scale; %" PRIu64 " of its %" PRId64 " blocks have one",
            where, t->name, tr->name, first, first * (uint64_t)tr->block_elems,
            (first + 1) * (uint64_t)tr->block_elems - 1, n_bad, n / tr->block_elems);
    }
}

/* ---- the tensors of each format -------------------------------------------------------- */

/* Size from type and shape, and the bytes inside [base, base + size) when base is known. */
static void check_tensor(checker *c, const tlm_tensor *t, const uint8_t *base, uint64_t size)
{
    uint64_t bytes;
    bool ok = tlm_type_row_bytes(t->type, t->ne[0], &bytes);
    for (int k = 1; k < TLM_MAX_DIMS && ok; k++)
        ok = tlm_mul_u64(bytes, (uint64_t)t->ne[k], &bytes);
    if (!ok || bytes != t->nbytes)
        say(c, TLM_CHECK_ERROR,
            "%s: tensor '%s': %" PRIu64 " bytes, but its type and shape "
            "need %" PRIu64,
            c->path, t->name, t->nbytes, ok ? bytes : 0);
    if (base) {
        const uint8_t *d = t->data;
        if (d < base || !tlm_range_ok((uint64_t)(d - base), t->nbytes, size))
            say(c, TLM_CHECK_ERROR, "%s: tensor '%s' lies outside the file", c->path, t->name);
    }
    if (c->p->scan_values) scan_tensor(c, t, c->path);
}

typedef struct span {
    uint64_t begin, end;
    const char *name;
} span;

static int by_begin(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

static void check_gguf(checker *c, const gguf_file *f)
{
    span *s = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *s);
    for (int64_t i = 0; i < f->n_tensors; i++) {
        const tlm_tensor *t = &f->tensors[i];
        check_tensor(c, t, f->map, f->size);
        if (s) s[i] = (span){(uint64_t)((const uint8_t *)t->data - f->map), 0, t->name};
        if (s) s[i].end = s[i].begin + t->nbytes;
    }
    if (s && f->n_tensors > 1) { /* aliasing is legal GGUF, but no converter writes it */
        qsort(s, (size_t)f->n_tensors, sizeof *s, by_begin);
        for (int64_t i = 1; i < f->n_tensors; i++)
            if (s[i].begin < s[i - 1].end)
                say(c, TLM_CHECK_WARNING,
                    "%s: tensors '%s' and '%s' share bytes from offset %" PRIu64, c->path,
                    s[i - 1].name, s[i].name, s[i].begin);
    }
    free(s);
    say(c, TLM_CHECK_INFO,
        "%s: GGUF v%u, %" PRId64 " keys, %" PRId64 " tensors in %" PRIu64
        " bytes, data from offset %" PRIu64 " aligned to %" PRIu64,
        c->path, f->version, f->n_kv, f->n_tensors, f->size, f->data_offset, f->alignment);
}

static bool is_file(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* The vocabulary of the model file, or of the directory's tokenizer files; and whether its
 * ids fit the embedding. */
static void check_vocab(checker *c, const tlm_model *m, bool dir)
{
    tlm_tokenizer *tok = NULL;
    tlm_error e = {0};
    tlm_status st;
    if (m->gguf) {
        if (!tlm_gguf_find(m->gguf, "tokenizer.ggml.model")) {
            say(c, TLM_CHECK_INFO, "%s: no vocabulary in the file", c->path);
            return;
        }
        st = tlm_tokenizer_from_model(m, &tok, &e);
    } else if (dir && (is_file(c->path, "tokenizer.json") || is_file(c->path, "vocab.json") ||
                       is_file(c->path, "tokenizer.model") || is_file(c->path, "qwen.tiktoken"))) {
        st = tlm_tokenizer_load(c->path, &tok, &e);
    } else {
        say(c, TLM_CHECK_INFO, "%s: no vocabulary %s", c->path,
            dir ? "files in the directory" : "in the file (llama2.c keeps it in tokenizer.bin)");
        return;
    }
    if (st != TLM_OK) {
        note(c, TLM_CHECK_ERROR, st, "%s (so %s)", e.message, explain(st));
        return;
    }
    int32_t n = tlm_tokenizer_n_vocab(tok);
    if (n > m->cfg.vocab_size)
        say(c, TLM_CHECK_ERROR,
            "%s: the vocabulary has %d tokens but the embedding only %d rows: "
            "ids from %d on cannot be evaluated",
            c->path, n, m->cfg.vocab_size, m->cfg.vocab_size);
    else
        say(c, TLM_CHECK_INFO,
            "%s: vocabulary of %d tokens (bos %d, eos %d) for %d embedding "
            "rows",
            c->path, n, tlm_tokenizer_bos(tok), tlm_tokenizer_eos(tok), m->cfg.vocab_size);
    tlm_tokenizer_free(tok);
}

tlm_status tlm_model_check(const char *path, const tlm_check_params *params, tlm_error *err)
{
    if (!path) return tlm_fail(err, TLM_ERR_ARG, "tlm_model_check: path is NULL");
    tlm_check_params p = params ? *params : tlm_check_default_params();
    checker c = {path, &p, err, TLM_OK, 0, 0};
    tlm_model *m = NULL;
    tlm_error e = {0};
    tlm_status st = tlm_model_open(path, true, NULL, &m, &e); /* weights as the file has them */
    if (st != TLM_OK) {
        note(&c, TLM_CHECK_ERROR, st, "%s", e.message);
        say(&c, TLM_CHECK_INFO, "what this means: %s", explain(st));
        return st;
    }
    const tlm_config *cfg = &m->cfg;
    say(&c, TLM_CHECK_INFO,
        "%s: %s, %d layers, dim %d, %d heads / %d KV heads of %d, MLP %d, "
        "vocab %d, context %d: every weight present with the right shape and type",
        path, cfg->arch, cfg->n_layers, cfg->dim, cfg->n_heads, cfg->n_kv_heads, cfg->head_dim,
        cfg->hidden_dim, cfg->vocab_size, cfg->max_seq);

    int64_t n_tensors = 0;
    if (m->gguf) {
        check_gguf(&c, m->gguf);
        n_tensors = m->gguf->n_tensors;
    } else if (m->st) {
        n_tensors = tlm_st_n_tensors(m->st);
        for (int64_t i = 0; i < n_tensors; i++)
            check_tensor(&c, tlm_st_tensor(m->st, i), NULL, 0);
    } else {
        n_tensors = arrlen(m->own_tensors);
        for (int64_t i = 0; i < n_tensors; i++)
            check_tensor(&c, &m->own_tensors[i], m->map, m->map_size);
    }
    struct stat sb;
    check_vocab(&c, m, stat(path, &sb) == 0 && S_ISDIR(sb.st_mode));
    tlm_model_free(m);

    if (c.n_errors == 0)
        say(&c, TLM_CHECK_INFO, "%s: no problems in %" PRId64 " tensors%s", path, n_tensors,
            p.scan_values ? " (every value finite)" : "");
    else
        say(&c, TLM_CHECK_INFO, "%s: %d problem%s found", path, c.n_errors,
            c.n_errors > 1 ? "s" : "");
    return c.st;
}
