/* fuzz_common.h - what the libFuzzer targets share: a scratch directory for the files they
 * write (in /dev/shm when there is one), and short runs of whatever loaded, so a lying header
 * that the parser let through is caught in the code that uses the model or the vocabulary.
 *
 * Built only by `make fuzz` (clang, -fsanitize=fuzzer,address,undefined). Each target defines
 * LLVMFuzzerTestOneInput; everything here is static. Invariants that must hold for any input
 * end in fz_require, which traps, so libFuzzer records the input as a crash. */
#ifndef TLM_FUZZ_COMMON_H
#define TLM_FUZZ_COMMON_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tinylm.h"

static char fz_dir[256];

static inline int fz_rm(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

static inline void fz_cleanup(void)
{
    if (fz_dir[0]) nftw(fz_dir, fz_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Creates the scratch directory once. */
static inline void fz_init(void)
{
    if (fz_dir[0]) return;
    struct stat sb;
    const char *base = stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(fz_dir, sizeof fz_dir, "%s/tlm_fuzz_XXXXXX", base);
    if (!mkdtemp(fz_dir)) {
        perror("fuzz: mkdtemp");
        exit(1);
    }
    atexit(fz_cleanup);
}

static inline const char *fz_path(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", fz_dir, name);
    return path;
}

static inline void fz_write(const char *name, const void *data, size_t n)
{
    FILE *fp = fopen(fz_path(name), "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) {
        perror("fuzz: write");
        exit(1);
    }
}

static inline void fz_require(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz: invariant broken: %s\n", what);
        __builtin_trap();
    }
}

/* Whether s[0..n) is well-formed UTF-8. */
static inline int fz_utf8_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i], need = c < 0x80                 ? 1
                                  : c >= 0xC2 && c <= 0xDF ? 2
                                  : c >= 0xE0 && c <= 0xEF ? 3
                                  : c >= 0xF0 && c <= 0xF4 ? 4
                                                           : 0;
        if (!need || i + need > n) return 0;
        unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
        unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
        if (need > 1 && (s[i + 1] < lo || s[i + 1] > hi)) return 0;
        for (unsigned k = 2; k < need; k++)
            if ((s[i + k] & 0xC0) != 0x80) return 0;
        i += need;
    }
    return 1;
}

/* Encodes text, decodes the ids through a detok stream (whose output must be well-formed
 * UTF-8) and tlm_token_piece; returns the ids (malloc'd, count in *n) or NULL. */
static inline int32_t *fz_tokenize(const tlm_tokenizer *tok, const char *text, int special, int bos,
                                   int32_t *n)
{
    int32_t cap = 64, got = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return NULL;
    tlm_status st = special ? tlm_tokenize_special(tok, text, bos, ids, cap, &got)
                            : tlm_tokenize(tok, text, bos, ids, cap, &got);
    if (st == TLM_ERR_BUFFER_TOO_SMALL) { /* the count needed comes back with the status */
        cap = got;
        int32_t *more = realloc(ids, (size_t)cap * sizeof *ids);
        if (!more) {
            free(ids);
            return NULL;
        }
        ids = more;
        st = special ? tlm_tokenize_special(tok, text, bos, ids, cap, &got)
                     : tlm_tokenize(tok, text, bos, ids, cap, &got);
        fz_require(st != TLM_ERR_BUFFER_TOO_SMALL,
                   "tokenize: the count it asked for is not enough");
    }
    if (st != TLM_OK) {
        free(ids);
        return NULL;
    }
    int32_t n_vocab = tlm_tokenizer_n_vocab(tok);
    tlm_detok *d = NULL;
    fz_require(tlm_detok_create(tok, &d) == TLM_OK, "detok_create");
    for (int32_t i = 0; i < got; i++) {
        fz_require(ids[i] >= 0 && ids[i] < n_vocab, "tokenize: id outside the vocabulary");
        size_t len;
        const char *p = tlm_token_piece(tok, i ? ids[i - 1] : -1, ids[i], &len);
        fz_require(p != NULL, "token_piece of an encoded id");
        const char *o = tlm_detok_push(d, ids[i], &len);
        fz_require(o != NULL || len == 0, "detok_push");
        if (o) fz_require(fz_utf8_ok((const unsigned char *)o, len), "detok output is not UTF-8");
    }
    size_t len;
    const char *o = tlm_detok_flush(d, &len);
    if (o) fz_require(fz_utf8_ok((const unsigned char *)o, len), "detok flush is not UTF-8");
    tlm_detok_free(d);
    *n = got;
    return ids;
}

/* Uses a tokenizer that loaded from fuzzed bytes: every piece decodes, a fixed text encodes. */
static inline void fz_run_tokenizer(const tlm_tokenizer *tok)
{
    int32_t n_vocab = tlm_tokenizer_n_vocab(tok);
    fz_require(n_vocab > 0, "n_vocab");
    for (int32_t id = 0; id < n_vocab && id < 512; id++) {
        size_t len;
        fz_require(tlm_token_piece(tok, -1, id, &len) != NULL, "token_piece in range");
    }
    size_t len;
    fz_require(tlm_token_piece(tok, -1, n_vocab, &len) == NULL, "token_piece out of range");
    int32_t b = tlm_tokenizer_bos(tok), e = tlm_tokenizer_eos(tok);
    fz_require(b >= -1 && b < n_vocab && e >= -1 && e < n_vocab, "bos/eos inside the vocabulary");
    tlm_tokenizer_find(tok, "a");
    static const char *const texts[] = {"ab abcd\ncd e\xC3\xA9 <s> <|endoftext|>",
                                        "  \t\xff\xfe x\xE2\x96\x81y 123 \xF0\x9F\x98\x80", ""};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t n;
        free(fz_tokenize(tok, texts[i], (int)(i & 1), 1, &n));
    }
}

/* Runs two or three tokens through a model that loaded from fuzzed bytes. */
static inline void fz_run_model(const tlm_model *m)
{
    const tlm_model_info *in = tlm_model_get_info(m);
    fz_require(in && in->n_vocab > 0, "model info");
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = 4;
    cp.n_batch = 2;
    cp.n_threads = 1;
    tlm_context *ctx = NULL;
    if (tlm_context_create(m, &cp, &ctx, NULL) == TLM_OK) {
        int32_t ids[3] = {0, in->n_vocab - 1, in->bos_id >= 0 ? in->bos_id : 0};
        float *all = malloc(3 * (size_t)in->n_vocab * sizeof(float));
        if (all) {
            fz_require(tlm_context_eval(ctx, ids, 3, all) == TLM_OK, "eval of 3 valid ids");
            fz_require(tlm_context_eval(ctx, ids, 2, NULL) == TLM_ERR_CONTEXT_FULL, "context full");
            tlm_sampler_params sp = tlm_sampler_default_params();
            sp.temperature = 0.7f, sp.top_k = 3, sp.top_p = 0.9f;
            tlm_sampler *s = NULL;
            if (tlm_sampler_create(&sp, in->n_vocab, &s, NULL) == TLM_OK) {
                int32_t id = tlm_sampler_sample(s, tlm_context_logits(ctx));
                fz_require(id >= 0 && id < in->n_vocab, "sampled id in range");
                tlm_sampler_free(s);
            }
            free(all);
        }
        tlm_context_free(ctx);
    }
    tlm_tokenizer *tok = NULL;
    if (tlm_tokenizer_from_model(m, &tok, NULL) == TLM_OK) fz_run_tokenizer(tok);
    tlm_tokenizer_free(tok);
}

/* Loads path as a model and runs it; a file that loads is then checked, values scanned. */
static inline void fz_model_path(const char *path)
{
    tlm_model *m = NULL;
    tlm_error err;
    tlm_status st = tlm_model_load(path, NULL, &m, &err);
    fz_require((st == TLM_OK) == (m != NULL), "out set exactly on success");
    if (st != TLM_OK) {
        fz_require(err.status == st && err.message[0] != '\0', "a failure has a message");
        return;
    }
    fz_run_model(m);
    tlm_model_free(m);
    tlm_check_params cp = tlm_check_default_params();
    cp.scan_values = true;
    st = tlm_model_check(path, &cp, &err);
    fz_require(st == TLM_OK || (err.status == st && err.message[0]),
               "check: a failure has a message");
}

/* Loads path as a tokenizer and uses it. */
static inline void fz_tokenizer_path(const char *path)
{
    tlm_tokenizer *tok = NULL;
    tlm_error err;
    tlm_status st = tlm_tokenizer_load(path, &tok, &err);
    fz_require((st == TLM_OK) == (tok != NULL), "out set exactly on success");
    if (st != TLM_OK) {
        fz_require(err.status == st && err.message[0] != '\0', "a failure has a message");
        return;
    }
    fz_run_tokenizer(tok);
    tlm_tokenizer_free(tok);
}

#endif
