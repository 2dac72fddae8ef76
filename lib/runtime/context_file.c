/* context_file.c - a sequence's state as a file (the prompt cache): its KV cells, its token
 * history, the context's last logits (tlm_context_save only: they belong to no one sequence)
 * and the RoPE state, with a fingerprint of the model they belong to. tlm_context_save / load
 * act on sequence 0 (a load clears the others); tlm_context_seq_save / load on any one, and a
 * sequence loads into any sequence of any context of the same model.
 *
 * Layout (little-endian), version 2:
 *   header: "TLMCACHE", u32 version, u32 header bytes (104), u64 model fingerprint,
 *           char arch[32], i32 n_apply, n_kv_heads, head_dim, vocab, rope_dim,
 *           u32 kv_type, u32 long_factors, f32 ntk_alpha, u32 has_logits,
 *           i32 n_ctx (of the saver, informational), n_past, n_used
 *   i32 tokens[n_past], i32 cell_pos[n_used], f32 logits[vocab] if has_logits,
 *   K rows [n_apply][n_kv_heads][n_used][head_dim] then V rows alike, elements of kv_type
 *   (the cache's own head-major order; version 1 had [n_apply][n_used][kv_dim]).
 * A sequence's file is the same layout with has_logits 0 (so it needed no new version), and
 * either kind loads either way: a sequence load skips a file's logits.
 * Loading checks every count against the model, the context and the file's size. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checked.h"
#include "context.h"

enum { VERSION = 2, HEADER_BYTES = 104 };
static const char MAGIC[8] = {'T', 'L', 'M', 'C', 'A', 'C', 'H', 'E'};

/* ---- fingerprint ------------------------------------------------------------------------- */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001B3ULL;
    return h;
}

/* A matrix by type, shape and 256 bytes at its start, middle and end: weights of another
 * checkpoint or another quantization differ there, and hashing all of them would read GBs. */
static uint64_t hash_matrix(uint64_t h, const tlm_matrix *w)
{
    int64_t dims[3] = {(int64_t)w->type, w->rows, w->cols};
    h = fnv(h, dims, sizeof dims);
    uint64_t bytes = w->row_bytes * (uint64_t)w->rows, n = bytes < 256 ? bytes : 256;
    const uint8_t *d = w->data;
    if (!d) return h;
    h = fnv(h, d, (size_t)n);
    h = fnv(h, d + (bytes - n) / 2, (size_t)n);
    return fnv(h, d + bytes - n, (size_t)n);
}

static uint64_t hash_proj(uint64_t h, const tlm_proj *p)
{
    for (int i = 0; i < p->n_parts; i++)
        h = hash_matrix(h, &p->part[i]);
    if (p->bias) h = fnv(h, p->bias, sizeof(float) * (size_t)(p->rows < 64 ? p->rows : 64));
    return h;
}

uint64_t tlm_model_fingerprint(const tlm_model *m)
{
    const tlm_config *c = &m->cfg;
    int32_t dims[] = {
        c->dim,           c->hidden_dim,    c->n_layers, c->n_heads,        c->n_kv_heads,
        c->head_dim,      c->vocab_size,    c->rope_dim, c->sliding_window, c->rope_neox,
        (int32_t)c->norm, c->layer_sharing, c->orig_ctx, c->longrope,       c->dynamic_ntk,
        c->logn_attn};
    uint64_t h = fnv(0xCBF29CE484222325ULL, dims, sizeof dims);
    h = fnv(h, &c->rope_theta, sizeof c->rope_theta);
    if (c->longrope) {
        h = fnv(h, c->rope_short, sizeof(float) * (size_t)(c->rope_dim / 2));
        h = fnv(h, c->rope_long, sizeof(float) * (size_t)(c->rope_dim / 2));
    }
    h = hash_matrix(h, &m->embed);
    for (int32_t l = 0; l < c->n_layers; l++) {
        const tlm_block *b = &m->blocks[l];
        h = hash_proj(h, &b->qkv);
        h = hash_proj(h, &b->out);
        h = hash_proj(h, &b->gate_up);
        h = hash_proj(h, &b->down);
        if (b->attn_norm.w) h = fnv(h, b->attn_norm.w, sizeof(float) * (size_t)c->dim);
    }
    return hash_proj(h, &m->head);
}

/* ---- save -------------------------------------------------------------------------------- */

typedef struct header {
    uint64_t fingerprint;
    char arch[32];
    int32_t n_apply, n_kv_heads, head_dim, vocab, rope_dim;
    uint32_t kv_type, long_factors;
    float ntk_alpha;
    uint32_t has_logits;
    int32_t n_ctx, n_past, n_used;
} header;

/* The header as bytes, field by field (no struct padding in the file). */
static void pack(const header *h, uint8_t out[HEADER_BYTES])
{
    uint32_t version = VERSION, bytes = HEADER_BYTES;
    uint8_t *p = out;
#define PUT(x) (memcpy(p, &(x), sizeof(x)), p += sizeof(x))
    memcpy(p, MAGIC, 8), p += 8;
    PUT(version), PUT(bytes), PUT(h->fingerprint);
    memcpy(p, h->arch, 32), p += 32;
    PUT(h->n_apply), PUT(h->n_kv_heads), PUT(h->head_dim), PUT(h->vocab), PUT(h->rope_dim);
    PUT(h->kv_type), PUT(h->long_factors), PUT(h->ntk_alpha), PUT(h->has_logits);
    PUT(h->n_ctx), PUT(h->n_past), PUT(h->n_used);
#undef PUT
}

static void unpack(const uint8_t in[HEADER_BYTES], header *h, uint32_t *version, uint32_t *bytes)
{
    const uint8_t *p = in + 8;
#define GET(x) (memcpy(&(x), p, sizeof(x)), p += sizeof(x))
    GET(*version), GET(*bytes), GET(h->fingerprint);
    memcpy(h->arch, p, 32), p += 32;
    h->arch[31] = '\0';
    GET(h->n_apply), GET(h->n_kv_heads), GET(h->head_dim), GET(h->vocab), GET(h->rope_dim);
    GET(h->kv_type), GET(h->long_factors), GET(h->ntk_alpha), GET(h->has_logits);
    GET(h->n_ctx), GET(h->n_past), GET(h->n_used);
#undef GET
}

/* Sequence seq's header; the context's last logits go with it only for a whole-context save. */
static header header_of(const tlm_context *ctx, int32_t seq, bool whole)
{
    const tlm_config *c = &ctx->m->cfg;
    const tlm_seq *sq = &ctx->seqs[seq];
    header h = {.fingerprint = ctx->m->fingerprint,
                .n_apply = tlm_config_n_apply(c),
                .n_kv_heads = c->n_kv_heads,
                .head_dim = c->head_dim,
                .vocab = c->vocab_size,
                .rope_dim = c->rope_dim,
                .kv_type = (uint32_t)ctx->kv_type,
                .long_factors = ctx->long_factors,
                .ntk_alpha = ctx->ntk_alpha,
                .has_logits = whole && ctx->has_logits,
                .n_ctx = ctx->n_ctx,
                .n_past = sq->n_past,
                .n_used = sq->n_used};
    snprintf(h.arch, sizeof h.arch, "%s", c->arch);
    return h;
}

uint64_t tlm_context_state_bytes(const tlm_context *ctx, int32_t seq, bool whole)
{
    const tlm_seq *sq = &ctx->seqs[seq];
    uint64_t row = tlm_context_row_bytes(ctx); /* the cache holds what fits in memory */
    return HEADER_BYTES + 4 * ((uint64_t)sq->n_past + (uint64_t)sq->n_used) +
           (whole && ctx->has_logits ? 4 * (uint64_t)ctx->m->cfg.vocab_size : 0) +
           2 * (uint64_t)tlm_config_n_apply(&ctx->m->cfg) * (uint64_t)sq->n_used * row;
}

bool tlm_context_write_state(const tlm_context *ctx, int32_t seq, bool whole, FILE *fp)
{
    const tlm_seq *sq = &ctx->seqs[seq];
    header h = header_of(ctx, seq, whole);
    uint8_t head[HEADER_BYTES];
    pack(&h, head);
    size_t row = tlm_context_head_bytes(ctx);
    bool ok = fwrite(head, 1, sizeof head, fp) == sizeof head &&
              fwrite(sq->tokens, 4, (size_t)h.n_past, fp) == (size_t)h.n_past &&
              fwrite(sq->cell_pos, 4, (size_t)h.n_used, fp) == (size_t)h.n_used &&
              (!h.has_logits || fwrite(ctx->logits, 4, (size_t)h.vocab, fp) == (size_t)h.vocab);
    for (int pass = 0; pass < 2 && ok; pass++) {
        void *base = pass == 0 ? ctx->k_cache : ctx->v_cache;
        for (int32_t a = 0; a < h.n_apply && ok; a++) /* the cells in use are contiguous */
            for (int32_t g = 0; g < h.n_kv_heads && ok; g++)
                ok = fwrite(tlm_kv_at(ctx, base, a, g, sq->cell0), row, (size_t)h.n_used, fp) ==
                     (size_t)h.n_used;
    }
    return ok;
}

/* The temporary name beside path: its file name plus ".tmp<pid>", that file name cut short
 * so the whole stays within NAME_MAX (else a name of 250 bytes, valid itself, could not be
 * saved). False when it does not fit cap. */
static bool temp_name(const char *path, char *tmp, size_t cap)
{
    char suffix[32];
    int ns = snprintf(suffix, sizeof suffix, ".tmp%ld", (long)getpid());
    const char *slash = strrchr(path, '/');
    size_t dir_len = slash ? (size_t)(slash + 1 - path) : 0, name_len = strlen(path) - dir_len;
    if (name_len + (size_t)ns > NAME_MAX) name_len = NAME_MAX - (size_t)ns;
    int n =
        snprintf(tmp, cap, "%.*s%.*s%s", (int)dir_len, path, (int)name_len, path + dir_len, suffix);
    return n > 0 && (size_t)n < cap;
}

/* Writes under a temporary name and renames it into place, so a reader never sees half. */
static tlm_status save_file(const tlm_context *ctx, int32_t seq, bool whole, const char *path,
                            tlm_error *err)
{
    char tmp[4096];
    if (!temp_name(path, tmp, sizeof tmp))
        return tlm_fail(err, TLM_ERR_ARG, "%s: path too long", path);
    FILE *fp = fopen(tmp, "wb");
    if (!fp) return tlm_fail(err, TLM_ERR_IO, "%s: cannot create", tmp);
    bool ok = tlm_context_write_state(ctx, seq, whole, fp);
    if (fclose(fp) != 0) ok = false;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot write the context", path);
    }
    return TLM_OK;
}

tlm_status tlm_context_save(const tlm_context *ctx, const char *path, tlm_error *err)
{
    if (!ctx || !path)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_save: %s is NULL", ctx ? "path" : "ctx");
    return save_file(ctx, 0, true, path, err);
}

tlm_status tlm_context_seq_save(const tlm_context *ctx, int32_t seq, const char *path,
                                tlm_error *err)
{
    if (!ctx || !path)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_seq_save: %s is NULL", ctx ? "path" : "ctx");
    if (seq < 0 || seq >= ctx->n_seq_max)
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_context_seq_save: sequence id %d is outside [0, %d) (the "
                        "context's n_seq_max)",
                        seq, ctx->n_seq_max);
    return save_file(ctx, seq, false, path, err);
}

/* ---- load -------------------------------------------------------------------------------- */

/* True when no sequence but seq holds a position: its NTK alpha may then change. */
static bool others_empty(const tlm_context *ctx, int32_t seq)
{
    for (int32_t s = 0; s < ctx->n_seq_max; s++)
        if (s != seq && (ctx->seqs[s].n_used || ctx->seqs[s].n_past)) return false;
    return true;
}

/* Checks a file's header against ctx for loading into sequence seq (whole: with every other
 * sequence cleared); fills *expect with the file size it implies. */
static tlm_status check_header(const tlm_context *ctx, int32_t seq, bool whole, const char *path,
                               const header *h, uint64_t *expect, tlm_error *err)
{
    header mine = header_of(ctx, seq, whole);
    if (h->fingerprint != mine.fingerprint || strcmp(h->arch, mine.arch) != 0 ||
        h->n_apply != mine.n_apply || h->n_kv_heads != mine.n_kv_heads ||
        h->head_dim != mine.head_dim || h->vocab != mine.vocab || h->rope_dim != mine.rope_dim)
        return tlm_fail(err, TLM_ERR_ARG,
                        "%s: saved from another model (%s, %d layers, %d kv "
                        "heads x %d, vocab %d, fingerprint %016llx); this one is %s, %d layers, %d "
                        "x %d, vocab %d, fingerprint %016llx",
                        path, h->arch, h->n_apply, h->n_kv_heads, h->head_dim, h->vocab,
                        (unsigned long long)h->fingerprint, mine.arch, mine.n_apply,
                        mine.n_kv_heads, mine.head_dim, mine.vocab,
                        (unsigned long long)mine.fingerprint);
    if (h->kv_type != mine.kv_type)
        return tlm_fail(err, TLM_ERR_ARG, "%s: holds a %s KV cache; this context's is %s", path,
                        tlm_type_get(h->kv_type) ? tlm_type_get(h->kv_type)->name : "unknown",
                        tlm_type_get(mine.kv_type)->name);
    if (h->long_factors != mine.long_factors)
        return tlm_fail(err, TLM_ERR_ARG,
                        "%s: keys rotated with the %s LongRoPE factors; this "
                        "context uses the %s ones (the choice follows n_ctx)",
                        path, h->long_factors ? "long" : "short",
                        mine.long_factors ? "long" : "short");
    /* one alpha rotates every sequence's keys: a dynamic one follows the file only when no
     * other sequence holds keys */
    bool fixed = ctx->ntk_param > 0.0f || !ctx->m->cfg.dynamic_ntk;
    bool adopt = !fixed && (whole || others_empty(ctx, seq));
    if (!(h->ntk_alpha >= 1.0f) || (!adopt && h->ntk_alpha != ctx->ntk_alpha))
        return tlm_fail(err, TLM_ERR_ARG,
                        "%s: keys rotated with NTK alpha %g; this context uses "
                        "%g%s",
                        path, (double)h->ntk_alpha, (double)ctx->ntk_alpha,
                        fixed ? "" : " for its other sequences");
    if (h->n_past < 0 || h->n_used < 0 || h->n_used > h->n_past || h->has_logits > 1)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: bad counts (%d positions, %d cells)", path,
                        h->n_past, h->n_used);
    if (h->n_past > ctx->n_ctx || h->n_used > ctx->n_cells)
        return tlm_fail(err, TLM_ERR_ARG,
                        "%s: %d positions in %d cells do not fit this context "
                        "(%d positions, %d cells per sequence)",
                        path, h->n_past, h->n_used, ctx->n_ctx, ctx->n_cells);
    uint64_t row = tlm_context_row_bytes(ctx), kv, rest;
    rest = HEADER_BYTES + 4 * ((uint64_t)h->n_past + (uint64_t)h->n_used) +
           (h->has_logits ? 4 * (uint64_t)h->vocab : 0);
    if (!tlm_mul_u64(2 * (uint64_t)h->n_apply * (uint64_t)h->n_used, row, &kv) ||
        !tlm_add_u64(rest, kv, expect))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: sizes overflow", path);
    return TLM_OK;
}

/* Positions strictly increasing within [0, n_past), each with a token; tokens in range. */
static tlm_status check_cells(const tlm_context *ctx, const tlm_seq *sq, const char *path,
                              tlm_error *err)
{
    int32_t vocab = ctx->m->cfg.vocab_size;
    for (int32_t i = 0; i < sq->n_past; i++)
        if (sq->tokens[i] < -1 || sq->tokens[i] >= vocab)
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: token %d at position %d is outside [0, %d)",
                            path, sq->tokens[i], i, vocab);
    for (int32_t i = 0; i < sq->n_used; i++) {
        int32_t p = sq->cell_pos[i];
        if (p < 0 || p >= sq->n_past || (i > 0 && p <= sq->cell_pos[i - 1]) || sq->tokens[p] < 0)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: cell %d has position %d: not increasing, "
                            "outside [0, %d) or without a token",
                            path, i, p, sq->n_past);
    }
    return TLM_OK;
}

/* Empties one sequence (its cells stay as bytes: nothing reads past n_used). */
static void clear_seq(tlm_seq *sq, int32_t n_past)
{
    for (int32_t i = 0; i < n_past; i++)
        sq->tokens[i] = -1;
    sq->n_past = sq->n_used = 0;
}

void tlm_context_drop_seq(tlm_context *ctx, int32_t seq)
{
    clear_seq(&ctx->seqs[seq], ctx->seqs[seq].n_past);
    ctx->has_logits = false;
}

/* Before reading: a whole load clears every sequence, a sequence load only its own. The
 * context's last logits are dropped either way (a whole load may bring the file's). */
static void clear_target(tlm_context *ctx, int32_t seq, bool whole)
{
    if (whole)
        tlm_context_reset(ctx);
    else
        tlm_context_drop_seq(ctx, seq);
}

static tlm_status load_file(tlm_context *ctx, int32_t seq, bool whole, const char *path,
                            tlm_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        if (!whole) clear_target(ctx, seq, whole);
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot open", path);
    }
    long size = -1;
    if (fseek(fp, 0, SEEK_END) != 0 || (size = ftell(fp)) < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        fclose(fp);
        clear_target(ctx, seq, whole);
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot read", path);
    }
    tlm_status st = tlm_context_read_state(ctx, seq, whole, fp, (uint64_t)size, path, err);
    fclose(fp);
    return st;
}

tlm_status tlm_context_load(tlm_context *ctx, const char *path, tlm_error *err)
{
    if (!ctx || !path)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_load: %s is NULL", ctx ? "path" : "ctx");
    return load_file(ctx, 0, true, path, err);
}

tlm_status tlm_context_seq_load(tlm_context *ctx, int32_t seq, const char *path, tlm_error *err)
{
    if (!ctx || !path)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_seq_load: %s is NULL", ctx ? "path" : "ctx");
    if (seq < 0 || seq >= ctx->n_seq_max)
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_context_seq_load: sequence id %d is outside [0, %d) (the "
                        "context's n_seq_max)",
                        seq, ctx->n_seq_max);
    return load_file(ctx, seq, false, path, err);
}

tlm_status tlm_context_read_state(tlm_context *ctx, int32_t seq, bool whole, FILE *fp,
                                  uint64_t size, const char *path, tlm_error *err)
{
    uint8_t head[HEADER_BYTES];
    header h;
    uint32_t version = 0, bytes = 0;
    uint64_t expect = 0;
    tlm_status st = TLM_OK;
    if (size < HEADER_BYTES || fread(head, 1, sizeof head, fp) != sizeof head ||
        memcmp(head, MAGIC, 8) != 0)
        st = tlm_fail(err, TLM_ERR_FORMAT, "%s: not a libtinylm context file", path);
    if (st == TLM_OK) {
        unpack(head, &h, &version, &bytes);
        if (version != VERSION || bytes != HEADER_BYTES)
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: context file version %u (header %u bytes); "
                          "this build reads version %d",
                          path, version, bytes, VERSION);
    }
    if (st == TLM_OK) st = check_header(ctx, seq, whole, path, &h, &expect, err);
    if (st == TLM_OK && expect != size)
        st = tlm_fail(err, TLM_ERR_FORMAT,
                      "%s: the file has %llu bytes but its header says "
                      "%llu",
                      path, (unsigned long long)size, (unsigned long long)expect);
    clear_target(ctx, seq, whole);
    if (st != TLM_OK) return st;
    tlm_seq *sq = &ctx->seqs[seq];
    size_t row = tlm_context_head_bytes(ctx);
    bool ok = fread(sq->tokens, 4, (size_t)h.n_past, fp) == (size_t)h.n_past &&
              fread(sq->cell_pos, 4, (size_t)h.n_used, fp) == (size_t)h.n_used;
    if (ok && h.has_logits) /* a sequence load skips them: they are the context's */
        ok = whole ? fread(ctx->logits, 4, (size_t)h.vocab, fp) == (size_t)h.vocab
                   : fseek(fp, 4 * (long)h.vocab, SEEK_CUR) == 0;
    for (int pass = 0; pass < 2 && ok; pass++) {
        void *base = pass == 0 ? ctx->k_cache : ctx->v_cache;
        for (int32_t a = 0; a < h.n_apply && ok; a++)
            for (int32_t g = 0; g < h.n_kv_heads && ok; g++)
                ok = fread(tlm_kv_at(ctx, base, a, g, sq->cell0), row, (size_t)h.n_used, fp) ==
                     (size_t)h.n_used;
    }
    sq->n_past = h.n_past;
    sq->n_used = h.n_used;
    if (!ok)
        st = tlm_fail(err, TLM_ERR_IO, "%s: read failed", path);
    else
        st = check_cells(ctx, sq, path, err);
    if (st != TLM_OK) {
        clear_seq(sq, h.n_past);
        return st;
    }
    ctx->has_logits = whole && h.has_logits != 0;
    if (ctx->ntk_alpha != h.ntk_alpha) { /* dynamic NTK: the alpha its keys were made with */
        ctx->ntk_alpha = h.ntk_alpha;
        tlm_context_rope_freqs(ctx);
    }
    return TLM_OK;
}
