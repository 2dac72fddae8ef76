/* test_tokenizer.c - SentencePiece BPE tokenizer: real vocabularies against independent
 * references (llama2.c's stories260K output, llama.cpp's test vectors made with the Hugging
 * Face tokenizer), a hand-made GGUF vocabulary for the merge rules, and malformed files.
 *
 * Shared data is found through $TLM_SHARED (default ../shared, relative to the repo root);
 * groups whose files are missing are counted as skipped. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gguf_read.h"
#include "harness.h"
#include "tinylm.h"
#include "tokenizer.h"

/* ---- helpers -------------------------------------------------------------------------- */

static const char *shared_dir(void)
{
    const char *s = getenv("TLM_SHARED");
    return s && *s ? s : "../shared";
}

static char *shared_path(const char *rel)
{
    static char buf[4][1024];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", shared_dir(), rel);
    return b;
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(fp);
    if (buf) buf[n] = '\0';
    if (len) *len = n;
    return buf;
}

static bool write_all(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    bool ok = fwrite(data, 1, len, fp) == len;
    return fclose(fp) == 0 && ok;
}

static char tmp_dir[256];

static const char *tmp_file(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmp_dir, name);
    return buf;
}

/* Decodes ids[0..n) starting after `prev` into a malloc'd string (length in *len). */
static char *decode(const tlm_tokenizer *tok, int32_t prev, const int32_t *ids, int32_t n,
                    size_t *len)
{
    size_t cap = 64, used = 0;
    char *out = malloc(cap);
    for (int32_t i = 0; i < n && out; i++) {
        size_t plen;
        const char *p = tlm_token_piece(tok, prev, ids[i], &plen);
        if (!p) {
            free(out);
            return NULL;
        }
        if (used + plen + 1 > cap) {
            while (used + plen + 1 > cap)
                cap *= 2;
            char *o = realloc(out, cap);
            if (!o) {
                free(out);
                return NULL;
            }
            out = o;
        }
        memcpy(out + used, p, plen);
        used += plen;
        prev = ids[i];
    }
    if (out) out[used] = '\0';
    *len = used;
    return out;
}

static void print_ids(const char *label, const int32_t *ids, int32_t n)
{
    printf("    %s (%d):", label, (int)n);
    for (int32_t i = 0; i < n && i < 40; i++)
        printf(" %d", (int)ids[i]);
    printf("%s\n", n > 40 ? " ..." : "");
}

/* Encodes text; returns a malloc'd array (count in *n) or NULL on failure. */
static int32_t *encode(const tlm_tokenizer *tok, const char *text, bool bos, int32_t *n)
{
    int32_t need = 0;
    tlm_status st = tlm_tokenize(tok, text, bos, NULL, 0, &need);
    if (st != TLM_OK && st != TLM_ERR_BUFFER_TOO_SMALL) return NULL;
    int32_t *ids = malloc(((size_t)need + 1) * sizeof *ids);
    if (!ids) return NULL;
    st = tlm_tokenize(tok, text, bos, ids, need, n);
    if (st != TLM_OK || *n != need) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* s with every byte that does not start a well-formed UTF-8 character replaced by U+FFFD,
 * which is how SentencePiece reads ill-formed input (written here independently of the
 * library from the Unicode table of well-formed byte sequences). */
static size_t fffd_bad_bytes(const unsigned char *s, size_t n, char *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t need = c < 0x80                 ? 1
                      : c >= 0xC2 && c <= 0xDF ? 2
                      : c >= 0xE0 && c <= 0xEF ? 3
                      : c >= 0xF0 && c <= 0xF4 ? 4
                                               : 0;
        bool ok = need > 0 && i + need <= n;
        for (size_t k = 1; ok && k < need; k++) {
            unsigned lo = 0x80, hi = 0xBF;
            if (k == 1 && c == 0xE0) lo = 0xA0;
            if (k == 1 && c == 0xED) hi = 0x9F;
            if (k == 1 && c == 0xF0) lo = 0x90;
            if (k == 1 && c == 0xF4) hi = 0x8F;
            ok = s[i + k] >= lo && s[i + k] <= hi;
        }
        if (ok) {
            memcpy(out + m, s + i, need);
            m += need;
            i += need;
        } else {
            memcpy(out + m, "\xEF\xBF\xBD", 3);
            m += 3;
            i++;
        }
    }
    return m;
}

/* Random byte strings (spaces, ASCII, UTF-8 and invalid bytes) survive encode + decode:
 * every byte has a piece or a byte piece in these vocabularies. Vocabularies that came from
 * SentencePiece read ill-formed bytes as U+FFFD, so for them those come back as U+FFFD.
 * (A literal U+2581 does not survive: SentencePiece reads it as a space, so it is left out.) */
static void fuzz_round_trip(const char *label, const tlm_tokenizer *tok)
{
    static const char *atoms[] = {" ",
                                  "  ",
                                  "a",
                                  "e",
                                  "the",
                                  "\n",
                                  "\t",
                                  "\xC3\xA9",
                                  "\xE2\x96\x80",
                                  "\xF0\x9F\xA6\x99",
                                  "\xFF",
                                  "\x80",
                                  "\xE2\x96",
                                  "<s>",
                                  "<0x41>",
                                  "3",
                                  "\xC3"};
    uint64_t x = 0x9E3779B97F4A7C15ull;
    int bad = 0;
    for (int t = 0; t < 2000; t++) {
        char buf[256];
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int parts = (int)(x % 24);
        for (int k = 0; k < parts; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            const char *a = atoms[x % (sizeof atoms / sizeof atoms[0])];
            if (n + strlen(a) >= sizeof buf) break;
            memcpy(buf + n, a, strlen(a));
            n += strlen(a);
        }
        buf[n] = '\0';
        int32_t m = 0;
        int32_t *ids = encode(tok, buf, false, &m);
        size_t len = 0;
        char *back = ids ? decode(tok, tlm_tokenizer_bos(tok), ids, m, &len) : NULL;
        char want[3 * sizeof buf];
        size_t nw = n;
        memcpy(want, buf, n);
        if (tok->invalid_utf8_fffd) nw = fffd_bad_bytes((const unsigned char *)buf, n, want);
        if (!back || len != nw || memcmp(back, want, nw) != 0) {
            if (bad++ < 3) printf("  %s: round trip fails for %zu bytes\n", label, n);
        }
        free(back);
        free(ids);
    }
    CHECK(bad == 0, "%s: 2000 random strings round-trip (%d failures)", label, bad);
}

/* ---- stories260K: decoding the reference ids with tok512.bin -------------------------- */

static void test_tok512(void)
{
    const char *tok_path = shared_path("models/tok512.bin");
    const char *ref_path = shared_path("models/stories260K.greedy200.txt");
    if (!exists(tok_path) || !exists(ref_path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_tokenizer_load_llama2c(tok_path, 512, &tok, &err);
    CHECK(st == TLM_OK, "load tok512.bin: %s", err.message);
    if (st != TLM_OK) return;
    CHECK(tlm_tokenizer_bos(tok) == 1 && tlm_tokenizer_eos(tok) == 2, "bos/eos = %d/%d",
          (int)tlm_tokenizer_bos(tok), (int)tlm_tokenizer_eos(tok));

    char *ref = read_all(ref_path, NULL);
    CHECK(ref != NULL, "read %s", ref_path);
    if (!ref) goto out;
    char *ids_line = strstr(ref, "\nids:");
    char *text = strstr(ref, "\ntext:\n");
    CHECK(ids_line && text, "reference file has an ids: and a text: line");
    if (!ids_line || !text) goto out_ref;
    text += strlen("\ntext:\n");
    /* The file ends with one newline after the last line; the model's text ends at "she"
     * (llama2.c's run prints a newline after generating). Drop exactly that one. */
    size_t text_len = strlen(text);
    CHECK(text_len > 0 && text[text_len - 1] == '\n', "reference text ends with a newline");
    if (text_len > 0 && text[text_len - 1] == '\n') text[--text_len] = '\0';

    int32_t ids[256];
    int32_t n = 0;
    char *p = ids_line + strlen("\nids:");
    while (n < 256) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || *p == '\n') break;
        ids[n++] = (int32_t)v;
        p = end;
        if (*p == '\n') break;
    }
    CHECK(n == 200, "200 reference ids (got %d)", (int)n);

    size_t len;
    char *got = decode(tok, 1, ids, n, &len);
    CHECK(got && len == text_len && memcmp(got, text, len) == 0,
          "tok512 decode of the 200 greedy ids matches the reference text (%zu vs %zu bytes)",
          got ? len : 0, text_len);
    if (got && (len != text_len || memcmp(got, text, len) != 0))
        printf("    got: %.*s\n", (int)len, got);

    /* Encoding that text again gives ids that decode to the same bytes. */
    int32_t m = 0;
    int32_t *enc = encode(tok, text, true, &m);
    CHECK(enc && m > 1 && enc[0] == 1, "tok512 encode of the reference text with BOS");
    if (enc) {
        size_t len2;
        char *back = decode(tok, enc[0], enc + 1, m - 1, &len2);
        CHECK(back && len2 == text_len && memcmp(back, text, len2) == 0,
              "tok512 decode(encode(text)) == text");
        free(back);
        free(enc);
    }
    /* "Once upon a time" is how the reference starts; llama2.c's encoder sees the same
     * pieces the model produced there (ids 403 407 261 378: Once, upon, a, time). */
    enc = encode(tok, "Once upon a time", false, &m);
    CHECK(enc && m == 4 && enc[0] == 403 && enc[1] == 407 && enc[2] == 261 && enc[3] == 378,
          "tok512 encode \"Once upon a time\" = 403 407 261 378");
    if (enc && !(m == 4 && enc[0] == 403)) print_ids("got", enc, m);
    free(enc);

    /* stories260K.gguf carries the same vocabulary with ▁ for spaces: same ids, same text. */
    const char *gguf_path = shared_path("models/stories260K.gguf");
    gguf_file *f = NULL;
    tlm_tokenizer *gtok = NULL;
    if (exists(gguf_path) && tlm_gguf_open(gguf_path, &f, &err) == TLM_OK &&
        tlm_tokenizer_from_gguf(f, &gtok, &err) == TLM_OK) {
        size_t glen;
        char *gtext = decode(gtok, 1, ids, n, &glen);
        CHECK(gtext && glen == text_len && memcmp(gtext, text, glen) == 0,
              "stories260K.gguf vocabulary decodes the 200 ids to the same text");
        int32_t a_n = 0, b_n = 0;
        int32_t *a = encode(tok, text, true, &a_n), *b = encode(gtok, text, true, &b_n);
        CHECK(a && b && a_n == b_n && memcmp(a, b, (size_t)a_n * sizeof *a) == 0,
              "tok512.bin and stories260K.gguf encode the text to the same %d ids", (int)a_n);
        free(a);
        free(b);
        free(gtext);
    } else if (!exists(gguf_path)) {
        MISSING(2, "%s", gguf_path);
    } else {
        CHECK(false, "stories260K.gguf tokenizer: %s", err.message);
    }
    tlm_tokenizer_free(gtok);
    tlm_gguf_close(f);
    free(got);
    fuzz_round_trip("tok512", tok);
out_ref:
    free(ref);
out:
    tlm_tokenizer_free(tok);
}

/* ---- llama.cpp test vectors ----------------------------------------------------------- */

typedef struct vectors {
    char *inp_buf, *out_buf;
    char *inputs[64];
    char *outputs[64];
    int n;
} vectors;

static bool load_vectors(const char *base, vectors *v)
{
    char path[1024];
    memset(v, 0, sizeof *v);
    snprintf(path, sizeof path, "%s.inp", base);
    v->inp_buf = read_all(path, NULL);
    snprintf(path, sizeof path, "%s.out", base);
    v->out_buf = read_all(path, NULL);
    if (!v->inp_buf || !v->out_buf) return false;
    /* Inputs: each followed by "\n__ggml_vocab_test__\n". */
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = v->inp_buf, *q;
    while ((q = strstr(p, sep)) != NULL && v->n < 64) {
        *q = '\0';
        v->inputs[v->n++] = p;
        p = q + strlen(sep);
    }
    /* Outputs: one line per input. */
    int m = 0;
    p = v->out_buf;
    while (*p && m < 64) {
        q = strchr(p, '\n');
        if (q) *q = '\0';
        v->outputs[m++] = p;
        if (!q) break;
        p = q + 1;
    }
    return m == v->n;
}

static void free_vectors(vectors *v)
{
    free(v->inp_buf);
    free(v->out_buf);
}

static int parse_ids(const char *line, int32_t *ids, int cap)
{
    int n = 0;
    const char *p = line;
    for (;;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || n >= cap) break;
        ids[n++] = (int32_t)x;
        p = end;
    }
    return n;
}

/* Encodes every input without BOS and compares with the expected ids; also checks that
 * decoding after BOS gives back the input (the dummy prefix is what BOS strips). */
static void run_vectors(const char *label, const tlm_tokenizer *tok, const vectors *v)
{
    int matched = 0, round = 0;
    static int32_t expect[4096];
    for (int i = 0; i < v->n; i++) {
        int ne = parse_ids(v->outputs[i], expect, 4096);
        int32_t n = 0;
        int32_t *got = encode(tok, v->inputs[i], false, &n);
        bool ok = got && n == ne && (n == 0 || memcmp(got, expect, (size_t)n * sizeof *got) == 0);
        if (ok) {
            matched++;
        } else {
            printf("  %s vector %d mismatch: input \"%.40s\"\n", label, i, v->inputs[i]);
            print_ids("expected", expect, ne);
            if (got) print_ids("got", got, n);
        }
        if (got) {
            size_t len;
            char *back = decode(tok, tlm_tokenizer_bos(tok), got, n, &len);
            if (back && len == strlen(v->inputs[i]) && memcmp(back, v->inputs[i], len) == 0)
                round++;
            else
                printf("  %s vector %d: decode(encode(s)) != s\n", label, i);
            free(back);
        }
        free(got);
    }
    printf("  %s: %d of %d vectors match, %d of %d round trips\n", label, matched, v->n, round,
           v->n);
    CHECK(v->n == 46, "%s: 46 test inputs (got %d)", label, v->n);
    CHECK(matched == v->n, "%s: %d of %d vectors match", label, matched, v->n);
    CHECK(round == v->n, "%s: %d of %d round trips", label, round, v->n);

    /* With BOS: the first id is BOS and the rest is unchanged. */
    int32_t n = 0;
    int32_t *ids = encode(tok, "Hello world", true, &n);
    CHECK(ids && n == 3 && ids[0] == 1 && ids[1] == 15043 && ids[2] == 3186,
          "%s: \"Hello world\" with BOS = 1 15043 3186", label);
    free(ids);
    /* cap too small: TLM_ERR_BUFFER_TOO_SMALL and the count needed. */
    int32_t small[2];
    tlm_status st = tlm_tokenize(tok, "Hello world", true, small, 2, &n);
    CHECK(st == TLM_ERR_BUFFER_TOO_SMALL && n == 3,
          "%s: cap 2 of 3 gives TLM_ERR_BUFFER_TOO_SMALL, n_out 3", label);
    ids = encode(tok, "", true, &n);
    CHECK(ids && n == 1 && ids[0] == 1, "%s: empty text with BOS is just BOS", label);
    free(ids);
}

static void test_gguf_vectors(const char *name, int32_t n_vocab, int32_t eos)
{
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/llamacpp/%s", name);
    const char *path = shared_path(rel);
    vectors v;
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    bool have = load_vectors(path, &v);
    CHECK(have, "%s: read .inp/.out with matching counts", name);
    if (!have) {
        free_vectors(&v);
        return;
    }
    gguf_file *f = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_gguf_open(path, &f, &err);
    CHECK(st == TLM_OK, "tlm_gguf_open %s: %s", name, err.message);
    tlm_tokenizer *tok = NULL;
    if (st == TLM_OK) {
        st = tlm_tokenizer_from_gguf(f, &tok, &err);
        CHECK(st == TLM_OK, "tlm_tokenizer_from_gguf %s: %s", name, err.message);
    }
    tlm_gguf_close(f); /* the tokenizer keeps its own copies */
    if (tok) {
        CHECK(tok->n_vocab == n_vocab, "%s: %d tokens (got %d)", name, (int)n_vocab,
              (int)tok->n_vocab);
        CHECK(tlm_tokenizer_bos(tok) == 1 && tlm_tokenizer_eos(tok) == eos, "%s: bos 1, eos %d",
              name, (int)eos);
        CHECK(tlm_tokenizer_wants_bos(tok), "%s: add_bos_token", name);
        run_vectors(name, tok, &v);
        fuzz_round_trip(name, tok);

        /* Decoding rules. */
        size_t len;
        const char *p = tlm_token_piece(tok, -1, 15043, &len);
        CHECK(p && len == 6 && memcmp(p, " Hello", 6) == 0, "%s: piece 15043 = \" Hello\"", name);
        p = tlm_token_piece(tok, 1, 15043, &len);
        CHECK(p && len == 5 && memcmp(p, "Hello", 5) == 0, "%s: after BOS \"Hello\"", name);
        p = tlm_token_piece(tok, -1, 13, &len);
        CHECK(p && len == 1 && p[0] == '\n', "%s: <0x0A> decodes to a newline", name);
        p = tlm_token_piece(tok, -1, 1, &len);
        CHECK(p && len == 0, "%s: BOS decodes to nothing", name);
        p = tlm_token_piece(tok, -1, 2, &len);
        if (n_vocab == 32000)
            CHECK(p && len == 0, "%s: </s> (control) decodes to nothing", name);
        else /* Phi-3 types </s> user-defined; its EOS is <|endoftext|> (control) */
            CHECK(p && len == 4 && memcmp(p, "</s>", 4) == 0 &&
                      tlm_token_piece(tok, -1, eos, &len) && len == 0,
                  "%s: </s> (user-defined) decodes as text, EOS to nothing", name);
        CHECK(tlm_token_piece(tok, -1, n_vocab, &len) == NULL && len == 0 &&
                  tlm_token_piece(tok, -1, -1, &len) == NULL,
              "%s: out-of-range ids give NULL", name);
        if (n_vocab > 32000) {
            /* Phi-3's added <|user|> (control) is never produced from plain text. */
            int32_t n = 0;
            int32_t *ids = encode(tok, "<|user|>", false, &n);
            bool none = ids != NULL;
            for (int32_t i = 0; ids && i < n; i++)
                if (ids[i] >= 32000) none = false;
            CHECK(none, "%s: \"<|user|>\" in text is not the control token", name);
            free(ids);
        }
    }
    tlm_tokenizer_free(tok);
    free_vectors(&v);
}

/* The same vocabulary as llama2.c's tokenizer.bin (spaces as ' '): same vectors. */
static void test_llama2c_32000_vectors(void)
{
    const char *path = shared_path("vocab/llama2/tokenizer.bin");
    const char *vec = shared_path("vocab/llamacpp/ggml-vocab-llama-spm.gguf");
    vectors v;
    if (!exists(path) || !exists(vec)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    bool have = load_vectors(vec, &v);
    CHECK(have, "llama-spm .inp/.out");
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_tokenizer_load_llama2c(path, 32000, &tok, &err);
    CHECK(st == TLM_OK, "load llama2 tokenizer.bin: %s", err.message);
    if (st == TLM_OK && have) run_vectors("llama2.c tokenizer.bin", tok, &v);
    tlm_tokenizer_free(tok);
    free_vectors(&v);
}

/* 1 MB of mixed text must tokenize quickly (the merge loop is O(n log n)). */
static void test_speed(void)
{
    const char *path = shared_path("vocab/llamacpp/ggml-vocab-llama-spm.gguf");
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    gguf_file *f = NULL;
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    if (tlm_gguf_open(path, &f, &err) != TLM_OK ||
        tlm_tokenizer_from_gguf(f, &tok, &err) != TLM_OK) {
        CHECK(false, "open %s: %s", path, err.message);
        tlm_gguf_close(f);
        return;
    }
    tlm_gguf_close(f);
    size_t inp_len;
    char inp_path[1024];
    snprintf(inp_path, sizeof inp_path, "%s.inp", path);
    char *inp = read_all(inp_path, &inp_len);
    size_t total = 1 << 20;
    char *text = malloc(total + 1);
    if (!inp || !text || inp_len == 0) {
        CHECK(false, "read %s", inp_path);
        free(inp);
        free(text);
        tlm_tokenizer_free(tok);
        return;
    }
    for (size_t i = 0; i < total; i++)
        text[i] = inp[i % inp_len];
    text[total] = '\0';
    /* Never more ids than bytes plus the dummy prefix: one call fills them all. */
    int32_t cap = (int32_t)total + 1, n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tlm_status st = ids ? tlm_tokenize(tok, text, false, ids, cap, &n) : TLM_ERR_NO_MEMORY;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("  1 MiB of text: %d tokens in %.3f s\n", (int)n, sec);
    CHECK(st == TLM_OK && n > 100000, "1 MiB encodes");
    /* The limit leaves room for sanitizer builds; an O(n^2) merge loop takes minutes. */
    CHECK(sec < 5.0, "1 MiB encodes in %.3f s", sec);
    if (st == TLM_OK) {
        size_t len;
        char *back = decode(tok, 1, ids, n, &len);
        CHECK(back && len == total && memcmp(back, text, total) == 0, "1 MiB round trip");
        free(back);
    }
    /* One long run of a single character: every pair ties. */
    memset(text, 'a', total);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = ids ? tlm_tokenize(tok, text, false, ids, cap, &n) : TLM_ERR_NO_MEMORY;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sec = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("  1 MiB of 'a': %d tokens in %.3f s\n", (int)n, sec);
    CHECK(st == TLM_OK && sec < 5.0, "1 MiB of one character encodes in %.3f s", sec);
    free(ids);
    free(text);
    free(inp);
    tlm_tokenizer_free(tok);
}

/* ---- a hand-made GGUF vocabulary ------------------------------------------------------ */

typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void put(gbuf *b, const void *data, size_t len)
{
    if (b->n + len > b->cap) {
        while (b->n + len > b->cap)
            b->cap = b->cap ? 2 * b->cap : 1024;
        b->p = realloc(b->p, b->cap);
        if (!b->p) {
            printf("out of memory\n");
            exit(2);
        }
    }
    memcpy(b->p + b->n, data, len);
    b->n += len;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_str(gbuf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_head(gbuf *b, const char *key, uint32_t type)
{
    put_str(b, key);
    put_u32(b, type);
    b->n_kv++;
}
static void kv_str(gbuf *b, const char *key, const char *v)
{
    kv_head(b, key, GGUF_STRING);
    put_str(b, v);
}
static void kv_u32(gbuf *b, const char *key, uint32_t v)
{
    kv_head(b, key, GGUF_U32);
    put_u32(b, v);
}
static void kv_bool(gbuf *b, const char *key, bool v)
{
    kv_head(b, key, GGUF_BOOL);
    uint8_t x = v;
    put(b, &x, 1);
}
static void kv_arr_head(gbuf *b, const char *key, uint32_t type, uint64_t n)
{
    kv_head(b, key, GGUF_ARRAY);
    put_u32(b, type);
    put_u64(b, n);
}

typedef struct toy_token {
    const char *text;
    float score;
    int32_t type;
} toy_token;

/* The toy vocabulary: enough pieces to see ordering, ties, byte fallback and unknowns. */
static const toy_token toy[] = {
    {"<unk>", 0, 2},
    {"<s>", 0, 3},
    {"</s>", 0, 3},
    {"<0x0A>", 0, 6},                    /* 3 */
    {"<0xC3>", 0, 6},                    /* 4 */
    {"<0xA9>", 0, 6},                    /* 5 */
    {"<0xFF>", 0, 6},                    /* 6 */
    {"\xE2\x96\x81", -1, 1},             /* 7: ▁ */
    {"a", -2, 1},                        /* 8 */
    {"b", -2, 1},                        /* 9 */
    {"c", -2, 1},                        /* 10 */
    {"ab", -5, 1},                       /* 11 */
    {"bc", -4, 1},                       /* 12: beats ab */
    {"aa", -3, 1},                       /* 13 */
    {"\xE2\x96\x81\x61", -6, 1},         /* 14: ▁a */
    {"<", -2, 1},                        /* 15 */
    {"s", -2, 1},                        /* 16 */
    {">", -2, 1},                        /* 17 */
    {"<s", -1, 1},                       /* 18 */
    {"x", -2, 5},                        /* 19: unused: never produced */
    {"\xE2\x96\x81\xE2\x96\x81", -1, 4}, /* 20: ▁▁ user-defined */
    {"<0x41>", 0, 1},                    /* 21: byte-looking text typed normal */
    {"abc", -9, 1},                      /* 22: reachable only through ab + c or a + bc */
};
#define TOY_N ((int)(sizeof toy / sizeof toy[0]))

typedef struct toy_opts {
    const char *model;
    bool add_space_prefix, has_prefix_key;
    uint32_t bos;
    int n_scores;     /* -1: as many as tokens */
    int32_t bad_type; /* != 0: written as the type of token 8 */
    bool omit_types;
    bool no_model;
    const char *byte_text; /* not NULL: replaces token 3's text (still typed BYTE) */
    bool cross_piece;      /* token 21 becomes "c▁" (score 0): a piece across a word start */
} toy_opts;

static toy_opts toy_defaults(void)
{
    toy_opts o = {"llama", true, false, 1, -1, 0, false, false, NULL, false};
    return o;
}

/* Writes the toy GGUF to a file and opens a tokenizer on it. */
static tlm_status toy_load(const toy_opts *o, tlm_tokenizer **tok, tlm_error *err)
{
    gbuf kv = {0};
    if (!o->no_model) kv_str(&kv, "tokenizer.ggml.model", o->model);
    kv_arr_head(&kv, "tokenizer.ggml.tokens", GGUF_STRING, TOY_N);
    for (int i = 0; i < TOY_N; i++)
        put_str(&kv, i == 3 && o->byte_text      ? o->byte_text
                     : i == 21 && o->cross_piece ? "c\xE2\x96\x81"
                                                 : toy[i].text);
    int ns = o->n_scores < 0 ? TOY_N : o->n_scores;
    kv_arr_head(&kv, "tokenizer.ggml.scores", GGUF_F32, (uint64_t)ns);
    for (int i = 0; i < ns; i++) {
        float sc = i == 21 && o->cross_piece ? 0.0f : toy[i % TOY_N].score;
        put(&kv, &sc, 4);
    }
    if (!o->omit_types) {
        kv_arr_head(&kv, "tokenizer.ggml.token_type", GGUF_I32, TOY_N);
        for (int i = 0; i < TOY_N; i++) {
            int32_t t = i == 8 && o->bad_type ? o->bad_type : toy[i].type;
            put(&kv, &t, 4);
        }
    }
    kv_u32(&kv, "tokenizer.ggml.bos_token_id", o->bos);
    kv_u32(&kv, "tokenizer.ggml.eos_token_id", 2);
    kv_u32(&kv, "tokenizer.ggml.unknown_token_id", 0);
    if (o->has_prefix_key) kv_bool(&kv, "tokenizer.ggml.add_space_prefix", o->add_space_prefix);

    gbuf file = {0};
    put(&file, "GGUF", 4);
    put_u32(&file, 3);
    put_u64(&file, 0);
    put_u64(&file, kv.n_kv);
    put(&file, kv.p, kv.n);
    while (file.n % 32)
        put(&file, "", 1);
    const char *path = tmp_file("toy.gguf");
    bool ok = write_all(path, file.p, file.n);
    free(kv.p);
    free(file.p);
    if (!ok) {
        printf("cannot write %s\n", path);
        return TLM_ERR_IO;
    }
    gguf_file *f = NULL;
    tlm_status st = tlm_gguf_open(path, &f, err);
    if (st == TLM_OK) st = tlm_tokenizer_from_gguf(f, tok, err);
    tlm_gguf_close(f);
    return st;
}

static bool enc_is(const tlm_tokenizer *tok, const char *text, int n, ...)
{
    int32_t got_n = 0;
    int32_t *got = encode(tok, text, false, &got_n);
    bool ok = got && got_n == n;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; ok && i < n; i++)
        if (got[i] != va_arg(ap, int)) ok = false;
    va_end(ap);
    if (!ok && got) {
        printf("    \"%s\":", text);
        print_ids("got", got, got_n);
    }
    free(got);
    return ok;
}

static void test_toy(void)
{
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    toy_opts o = toy_defaults();
    tlm_status st = toy_load(&o, &tok, &err);
    CHECK(st == TLM_OK, "toy vocabulary loads: %s", err.message);
    if (st != TLM_OK) return;

    /* "▁abc": pairs ▁a(-6) ab(-5) bc(-4): bc merges first; then ▁a (-6) beats a+bc = abc
     * (-9), and ▁abc is no piece. */
    CHECK(enc_is(tok, "abc", 2, 14, 12), "abc: bc first, then ▁a beats abc");
    /* "▁ab": ▁a(-6) vs ab(-5): ab wins, leaving ▁ + ab. */
    CHECK(enc_is(tok, "ab", 2, 7, 11), "ab: ab (-5) beats ▁a (-6)");
    /* "▁aaa": ▁a(-6), aa(-3) twice: the leftmost aa merges, then ▁ + aa + a. */
    CHECK(enc_is(tok, "aaa", 3, 7, 13, 8), "aaa: equal scores merge leftmost first");
    /* "▁a": ▁a */
    CHECK(enc_is(tok, "a", 1, 14), "a: dummy prefix merges with a");
    /* Byte fallback: é is C3 A9, not a piece. */
    CHECK(enc_is(tok, "\xC3\xA9", 3, 7, 4, 5), "é falls back to <0xC3> <0xA9>");
    /* Invalid UTF-8: a lone FF reads as U+FFFD (as in SentencePiece); the toy has neither
     * that piece nor the byte pieces EF BF BD: <unk>. */
    CHECK(enc_is(tok,
                 "\xFF"
                 "a",
                 3, 7, 0, 8),
          "invalid byte FF is U+FFFD, here <unk>");
    /* A character with no piece and no byte piece: the unknown id. */
    CHECK(enc_is(tok, "z", 2, 7, 0), "z has no piece and no byte: <unk>");
    CHECK(enc_is(tok, "\xC3\xA8", 2, 7, 0), "è: only one of its bytes has a piece: <unk>");
    /* Control <s> is never produced; <s (normal) is. */
    CHECK(enc_is(tok, "<s>", 3, 7, 18, 17), "<s> in text is < s > merged as <s + >");
    /* Unused x is never produced: unknown instead. */
    CHECK(enc_is(tok, "x", 2, 7, 0), "unused piece x is not produced");
    /* Byte-looking text typed normal is a normal piece; a BYTE piece is not matched. */
    CHECK(enc_is(tok, "\n", 2, 7, 3), "newline is <0x0A> by fallback");
    /* User-defined ▁▁ is produced like a normal piece. */
    CHECK(enc_is(tok, " ", 1, 20), "one space plus the dummy prefix is ▁▁ (user-defined)");
    CHECK(enc_is(tok, "", 0), "empty text gives no ids (no dummy prefix)");
    CHECK(enc_is(tok, "a  a", 3, 14, 20, 8), "a  a: ▁a ▁▁ a");

    /* Decoding. */
    size_t len;
    const char *p = tlm_token_piece(tok, -1, 14, &len);
    CHECK(p && len == 2 && memcmp(p, " a", 2) == 0, "▁a decodes to \" a\"");
    p = tlm_token_piece(tok, 1, 14, &len);
    CHECK(p && len == 1 && p[0] == 'a', "after BOS the dummy space is dropped");
    p = tlm_token_piece(tok, 1, 20, &len);
    CHECK(p && len == 1 && p[0] == ' ', "after BOS only one space is dropped");
    p = tlm_token_piece(tok, -1, 0, &len);
    CHECK(p && len == 5 && memcmp(p, " \xE2\x81\x87 ", 5) == 0, "<unk> decodes to \" ⁇ \"");
    p = tlm_token_piece(tok, -1, 2, &len);
    CHECK(p && len == 0, "control </s> decodes to nothing");
    p = tlm_token_piece(tok, -1, 19, &len);
    CHECK(p && len == 0, "unused decodes to nothing");
    p = tlm_token_piece(tok, -1, 6, &len);
    CHECK(p && len == 1 && (unsigned char)p[0] == 0xFF, "<0xFF> decodes to byte FF");
    p = tlm_token_piece(tok, -1, 21, &len);
    CHECK(p && len == 6 && memcmp(p, "<0x41>", 6) == 0, "normal \"<0x41>\" decodes as text");
    CHECK(tlm_token_piece(tok, -1, TOY_N, &len) == NULL, "id n_vocab gives NULL");
    CHECK(tlm_token_piece(NULL, -1, 0, &len) == NULL, "NULL tokenizer gives NULL");

    /* Argument errors. */
    int32_t ids[4], n = 7;
    CHECK(tlm_tokenize(NULL, "a", false, ids, 4, &n) == TLM_ERR_ARG && n == 0, "NULL tok");
    CHECK(tlm_tokenize(tok, NULL, false, ids, 4, &n) == TLM_ERR_ARG, "NULL text");
    CHECK(tlm_tokenize(tok, "a", false, NULL, 4, &n) == TLM_ERR_ARG, "NULL ids with cap 4");
    CHECK(tlm_tokenize(tok, "a", false, ids, -1, &n) == TLM_ERR_ARG, "negative cap");
    CHECK(tlm_tokenize(tok, "a", false, ids, 4, NULL) == TLM_ERR_ARG, "NULL n_out");
    CHECK(tlm_tokenize(tok, "aaa", true, ids, 4, &n) == TLM_OK && n == 4 && ids[0] == 1 &&
              ids[1] == 7 && ids[2] == 13 && ids[3] == 8,
          "exact cap is enough");
    tlm_tokenizer_free(tok);
    tlm_tokenizer_free(NULL);

    /* add_space_prefix = false: no dummy prefix, and BOS strips nothing. */
    o.has_prefix_key = true;
    o.add_space_prefix = false;
    tok = NULL;
    st = toy_load(&o, &tok, &err);
    CHECK(st == TLM_OK, "toy without space prefix: %s", err.message);
    if (tok) {
        CHECK(enc_is(tok, "abc", 1, 22), "no prefix: abc");
        CHECK(enc_is(tok, " a", 1, 14), "no prefix: \" a\" is ▁a");
        p = tlm_token_piece(tok, 1, 14, &len);
        CHECK(p && len == 2 && memcmp(p, " a", 2) == 0, "no prefix: BOS keeps the space");
        CHECK(tlm_tokenizer_wants_bos(tok), "add_bos_token defaults to true");
    }
    tlm_tokenizer_free(tok);

    /* A piece "c▁" crosses a word start: merges must then run over the whole text. */
    o = toy_defaults();
    o.cross_piece = true;
    tok = NULL;
    st = toy_load(&o, &tok, &err);
    CHECK(st == TLM_OK, "toy with c▁: %s", err.message);
    if (tok) {
        CHECK(enc_is(tok, "c a", 3, 7, 21, 8), "c▁ (0) merges across the word start");
        CHECK(enc_is(tok, "a  a", 3, 14, 20, 8), "▁a ▁▁ a: the space run stays with its word");
    }
    tlm_tokenizer_free(tok);

    /* No token_type: types come from the special ids and <0xNN> texts. */
    o = toy_defaults();
    o.omit_types = true;
    tok = NULL;
    st = toy_load(&o, &tok, &err);
    CHECK(st == TLM_OK, "toy without token_type: %s", err.message);
    if (tok) {
        CHECK(enc_is(tok, "\xC3\xA9", 3, 7, 4, 5), "no types: bytes still found");
        p = tlm_token_piece(tok, -1, 1, &len);
        CHECK(p && len == 0, "no types: BOS is control");
        p = tlm_token_piece(tok, -1, 21, &len);
        CHECK(p && len == 1 && p[0] == 'A', "no types: <0x41> is a byte piece");
    }
    tlm_tokenizer_free(tok);
}

static void expect_status(const toy_opts *o, tlm_status want, const char *what, const char *needle)
{
    tlm_tokenizer *tok = (tlm_tokenizer *)&tok; /* must be reset to NULL on failure */
    tlm_error err = {0};
    tlm_status st = toy_load(o, &tok, &err);
    CHECK(st == want && tok == NULL, "%s: status %d (want %d): %s", what, (int)st, (int)want,
          err.message);
    CHECK(!needle || strstr(err.message, needle), "%s: message names %s: \"%s\"", what, needle,
          err.message);
    if (st == TLM_OK) tlm_tokenizer_free(tok);
}

static void test_toy_errors(void)
{
    toy_opts o = toy_defaults();
    o.model = "gpt2"; /* byte-level BPE needs merges, which the toy lacks */
    expect_status(&o, TLM_ERR_FORMAT, "model gpt2 without merges", "tokenizer.ggml.merges");
    o.model = "bert";
    expect_status(&o, TLM_ERR_UNSUPPORTED, "model bert", "bert");
    o = toy_defaults();
    o.no_model = true;
    expect_status(&o, TLM_ERR_UNSUPPORTED, "no tokenizer.ggml.model", "tokenizer.ggml.model");
    o = toy_defaults();
    o.n_scores = TOY_N - 1;
    expect_status(&o, TLM_ERR_FORMAT, "short scores", "tokenizer.ggml.scores");
    o.n_scores = TOY_N + 1;
    expect_status(&o, TLM_ERR_FORMAT, "long scores", "tokenizer.ggml.scores");
    o = toy_defaults();
    o.bos = TOY_N;
    expect_status(&o, TLM_ERR_FORMAT, "bos = n_vocab", "bos_token_id");
    o.bos = 0xFFFFFFFFu;
    expect_status(&o, TLM_ERR_FORMAT, "bos = 2^32-1", "bos_token_id");
    o = toy_defaults();
    o.bad_type = 9;
    expect_status(&o, TLM_ERR_FORMAT, "token type 9", "token_type[8]");
    o = toy_defaults();
    o.byte_text = "<0xZZ>";
    expect_status(&o, TLM_ERR_FORMAT, "BYTE typed <0xZZ>", "token 3");
    o.byte_text = "abc";
    expect_status(&o, TLM_ERR_FORMAT, "BYTE typed abc", "token 3");

    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    CHECK(tlm_tokenizer_from_gguf(NULL, &tok, &err) == TLM_ERR_ARG, "from_gguf(NULL)");
}

/* ---- malformed tokenizer.bin ---------------------------------------------------------- */

static void expect_llama2c(const char *name, const void *data, size_t len, int32_t n_vocab,
                           tlm_status want, const char *needle)
{
    const char *path = tmp_file(name);
    if (!write_all(path, data, len)) {
        CHECK(false, "write %s", path);
        return;
    }
    tlm_tokenizer *tok = (tlm_tokenizer *)&tok;
    tlm_error err = {0};
    tlm_status st = tlm_tokenizer_load_llama2c(path, n_vocab, &tok, &err);
    CHECK(st == want && (st == TLM_OK) == (tok != NULL), "%s: status %d (want %d): %s", name,
          (int)st, (int)want, err.message);
    CHECK(st == TLM_OK || (strstr(err.message, name) && (!needle || strstr(err.message, needle))),
          "%s: message names the file%s%s: \"%s\"", name, needle ? " and " : "",
          needle ? needle : "", err.message);
    if (st == TLM_OK) tlm_tokenizer_free(tok);
}

static void test_llama2c_malformed(void)
{
    /* A valid 4-token file built here: <unk>, <s>, </s>, "a". */
    uint8_t good[128];
    size_t n = 0;
    uint32_t max_len = 5;
    memcpy(good + n, &max_len, 4);
    n += 4;
    const char *texts[] = {"<unk>", "\n<s>\n", "\n</s>\n", "a"};
    size_t len_off[4];
    for (int i = 0; i < 4; i++) {
        float score = (float)-i;
        int32_t len = (int32_t)strlen(texts[i]);
        memcpy(good + n, &score, 4);
        len_off[i] = n + 4;
        memcpy(good + n + 4, &len, 4);
        memcpy(good + n + 8, texts[i], (size_t)len);
        n += 8 + (size_t)len;
    }
    expect_llama2c("good.bin", good, n, 4, TLM_OK, NULL);
    expect_llama2c("fewer.bin", good, n, 3, TLM_OK, NULL); /* extra entries are ignored */
    expect_llama2c("more.bin", good, n, 5, TLM_ERR_FORMAT, "token 4");
    expect_llama2c("empty.bin", good, 0, 4, TLM_ERR_FORMAT, "offset 0");
    expect_llama2c("header.bin", good, 3, 4, TLM_ERR_FORMAT, "offset 0");
    expect_llama2c("cut_fields.bin", good, len_off[2] + 2, 4, TLM_ERR_FORMAT, "token 2");
    expect_llama2c("cut_text.bin", good, n - 1, 4, TLM_ERR_FORMAT, "token 3");

    uint8_t bad[128];
    int32_t v;
    memcpy(bad, good, n);
    v = -1;
    memcpy(bad + len_off[1], &v, 4);
    expect_llama2c("negative.bin", bad, n, 4, TLM_ERR_FORMAT, "negative");
    memcpy(bad, good, n);
    v = INT32_MAX;
    memcpy(bad + len_off[1], &v, 4);
    expect_llama2c("huge.bin", bad, n, 4, TLM_ERR_FORMAT, "offset");
    memcpy(bad, good, n);
    v = 7;
    memcpy(bad + len_off[3], &v, 4); /* one byte past the end */
    expect_llama2c("past_end.bin", bad, n, 4, TLM_ERR_FORMAT, "past the end");
    memcpy(bad, good, n);
    float nan_score = NAN;
    memcpy(bad + len_off[0] - 4, &nan_score, 4);
    expect_llama2c("nan.bin", bad, n, 4, TLM_ERR_FORMAT, "NaN");

    /* A length above the piece cap with the bytes present. */
    size_t big_len = (size_t)TLM_TOK_MAX_PIECE + 1;
    uint8_t *big = calloc(1, 12 + big_len);
    if (big) {
        int32_t l = (int32_t)big_len;
        memcpy(big + 8, &l, 4);
        expect_llama2c("cap.bin", big, 12 + big_len, 1, TLM_ERR_FORMAT, "cap");
        free(big);
    }

    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    CHECK(tlm_tokenizer_load_llama2c(tmp_file("missing.bin"), 4, &tok, &err) == TLM_ERR_IO && !tok,
          "missing file: TLM_ERR_IO");
    CHECK(tlm_tokenizer_load_llama2c(tmp_file("good.bin"), 0, &tok, &err) == TLM_ERR_ARG,
          "n_vocab 0: TLM_ERR_ARG");
    CHECK(tlm_tokenizer_load_llama2c(tmp_file("good.bin"), 4, NULL, &err) == TLM_ERR_ARG,
          "NULL out: TLM_ERR_ARG");
    CHECK(tlm_tokenizer_load_llama2c(NULL, 4, &tok, NULL) == TLM_ERR_ARG, "NULL path, NULL err");
    CHECK(tlm_tokenizer_load_llama2c(tmp_dir, 4, &tok, &err) == TLM_ERR_IO,
          "a directory: TLM_ERR_IO");

    /* The hand-made file works: "a" encodes as " " (no piece: <unk>) + "a". */
    if (tlm_tokenizer_load_llama2c(tmp_file("good.bin"), 4, &tok, &err) == TLM_OK) {
        int32_t ids[4], m = 0;
        CHECK(tlm_tokenize(tok, "a", true, ids, 4, &m) == TLM_OK && m == 3 && ids[0] == 1 &&
                  ids[1] == 0 && ids[2] == 3,
              "hand-made tokenizer.bin: BOS, <unk> for the space, a");
        tlm_tokenizer_free(tok);
    }
}

/* Truncations of the real tok512.bin at many points: never a crash, always FORMAT. */
static void test_tok512_truncated(void)
{
    const char *path = shared_path("models/tok512.bin");
    size_t len;
    char *data = exists(path) ? read_all(path, &len) : NULL;
    if (!data) {
        MISSING(1, "test data under ../shared");
        return;
    }
    int bad = 0;
    for (size_t cut = 0; cut < len; cut += 97) {
        const char *p = tmp_file("trunc.bin");
        tlm_tokenizer *tok = NULL;
        tlm_error err = {0};
        if (!write_all(p, data, cut) ||
            tlm_tokenizer_load_llama2c(p, 512, &tok, &err) != TLM_ERR_FORMAT || tok)
            bad++;
        tlm_tokenizer_free(tok);
    }
    CHECK(bad == 0, "tok512.bin truncated at every 97th byte: TLM_ERR_FORMAT (%d failures)", bad);
    free(data);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tlm_test_tokenizer_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("cannot create a temporary directory: %s\n", strerror(errno));
        printf("test_tokenizer: 0 passed, 1 failed\n");
        return 1;
    }
    test_tok512();
    test_tok512_truncated();
    test_gguf_vectors("ggml-vocab-llama-spm.gguf", 32000, 2);
    test_gguf_vectors("ggml-vocab-phi-3.gguf", 32064, 32000);
    test_llama2c_32000_vectors();
    test_speed();
    test_toy();
    test_toy_errors();
    test_llama2c_malformed();

    /* Remove the temporary files (only the names this test wrote). */
    const char *names[] = {"toy.gguf",     "good.bin",   "fewer.bin",      "more.bin",
                           "empty.bin",    "header.bin", "cut_fields.bin", "cut_text.bin",
                           "negative.bin", "huge.bin",   "past_end.bin",   "nan.bin",
                           "cap.bin",      "trunc.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_file(names[i]));
    rmdir(tmp_dir);

    return finish("tokenizer");
}
