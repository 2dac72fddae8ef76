/* test_tokenizer_bpe.c - byte-level BPE (GPT-2, Phi-2, Qwen2, Qwen v1, StableLM-2) and the
 * loaders behind tlm_tokenizer_load: every llama.cpp test vector (made with the Hugging Face
 * tokenizers) through every file form the shared directory has, special tokens, NFC,
 * streaming decode, the SentencePiece tokenizer.model reader, and malformed files of each
 * kind, which must give the right status and never crash.
 *
 * Shared data is found through $TLM_SHARED (default ../shared); groups whose files are
 * missing are counted as skipped. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_read.h"
#include "harness.h"
#include "tinylm.h"
#include "tokenizer.h"

/* ---- helpers -------------------------------------------------------------------------- */

static char *shared_path(const char *rel)
{
    static char buf[8][1024];
    static int next;
    const char *s = getenv("TLM_SHARED");
    char *b = buf[next++ % 8];
    snprintf(b, sizeof buf[0], "%s/%s", s && *s ? s : "../shared", rel);
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
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(fp);
    if (buf) buf[n] = '\0';
    if (len) *len = buf ? (size_t)n : 0;
    return buf;
}

static char tmp_dir[256];

static const char *tmp_file(const char *name)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, sizeof buf[0], "%s/%s", tmp_dir, name);
    return b;
}

static bool write_file(const char *name, const void *data, size_t len)
{
    FILE *fp = fopen(tmp_file(name), "wb");
    if (!fp) return false;
    bool ok = fwrite(data, 1, len, fp) == len;
    return fclose(fp) == 0 && ok;
}

static bool write_str(const char *name, const char *s) { return write_file(name, s, strlen(s)); }

static int32_t *encode(const tlm_tokenizer *tok, const char *text, bool special, int32_t *n)
{
    int32_t need = 0;
    tlm_status st = special ? tlm_tokenize_special(tok, text, false, NULL, 0, &need)
                            : tlm_tokenize(tok, text, false, NULL, 0, &need);
    if (st != TLM_OK && st != TLM_ERR_BUFFER_TOO_SMALL) return NULL;
    int32_t *ids = malloc(((size_t)need + 1) * sizeof *ids);
    if (!ids) return NULL;
    st = special ? tlm_tokenize_special(tok, text, false, ids, need, n)
                 : tlm_tokenize(tok, text, false, ids, need, n);
    if (st != TLM_OK || *n != need) {
        free(ids);
        return NULL;
    }
    return ids;
}

/* Concatenated pieces (no streaming), as after BOS (which drops SentencePiece's dummy
 * prefix), malloc'd. */
static char *decode(const tlm_tokenizer *tok, const int32_t *ids, int32_t n, size_t *len)
{
    size_t total = 0;
    int32_t bos = tlm_tokenizer_bos(tok);
    for (int32_t i = 0; i < n; i++) {
        size_t l;
        if (!tlm_token_piece(tok, i ? ids[i - 1] : bos, ids[i], &l)) return NULL;
        total += l;
    }
    char *out = malloc(total + 1);
    size_t at = 0;
    for (int32_t i = 0; out && i < n; i++) {
        size_t l;
        const char *p = tlm_token_piece(tok, i ? ids[i - 1] : bos, ids[i], &l);
        memcpy(out + at, p, l);
        at += l;
    }
    if (out) out[at] = '\0';
    *len = at;
    return out;
}

static bool ids_are(const tlm_tokenizer *tok, const char *text, bool special, int n, ...)
{
    int32_t m = 0;
    int32_t *ids = encode(tok, text, special, &m);
    bool ok = ids && m == n;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        int want = va_arg(ap, int);
        if (ok && ids[i] != want) ok = false;
    }
    va_end(ap);
    if (!ok && ids) {
        printf("    \"%s\" gives (%d):", text, (int)m);
        for (int32_t i = 0; i < m && i < 20; i++)
            printf(" %d", (int)ids[i]);
        printf("\n");
    }
    free(ids);
    return ok;
}

static tlm_tokenizer *load(const char *path)
{
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_tokenizer_load(path, &tok, &err);
    CHECK(st == TLM_OK && tok, "load %s: %s", path, err.message);
    return st == TLM_OK ? tok : NULL;
}

/* ---- llama.cpp vectors ---------------------------------------------------------------- */

typedef struct vectors {
    char *inp, *out;
    char *inputs[64], *outputs[64];
    int n;
} vectors;

static bool load_vectors(const char *base, vectors *v)
{
    char path[1024];
    memset(v, 0, sizeof *v);
    snprintf(path, sizeof path, "%s.inp", base);
    v->inp = read_all(path, NULL);
    snprintf(path, sizeof path, "%s.out", base);
    v->out = read_all(path, NULL);
    if (!v->inp || !v->out) return false;
    const char *sep = "\n__ggml_vocab_test__\n";
    char *p = v->inp, *q;
    while ((q = strstr(p, sep)) != NULL && v->n < 64) {
        *q = '\0';
        v->inputs[v->n++] = p;
        p = q + strlen(sep);
    }
    int m = 0;
    for (p = v->out; *p && m < 64;) {
        q = strchr(p, '\n');
        if (q) *q = '\0';
        v->outputs[m++] = p;
        if (!q) break;
        p = q + 1;
    }
    return m == v->n && v->n > 0;
}

static void free_vectors(vectors *v)
{
    free(v->inp);
    free(v->out);
}

/* Every input gives exactly the expected ids (when `expect`), and decodes back to itself. */
static void run_vectors(const char *label, const tlm_tokenizer *tok, const vectors *v, bool expect)
{
    int matched = 0, round = 0;
    for (int i = 0; i < v->n; i++) {
        int32_t n = 0;
        int32_t *got = encode(tok, v->inputs[i], false, &n);
        if (expect) {
            char line[16384];
            size_t at = 0;
            line[0] = '\0';
            for (int32_t k = 0; got && k < n && at + 16 < sizeof line; k++)
                at += (size_t)snprintf(line + at, sizeof line - at, " %d", (int)got[k]);
            if (got && strcmp(line, v->outputs[i]) == 0)
                matched++;
            else
                printf("  %s vector %d mismatch: \"%.30s\"\n    want%.200s\n    got %.200s\n",
                       label, i, v->inputs[i], v->outputs[i], line);
        }
        size_t len = 0;
        char *back = got ? decode(tok, got, n, &len) : NULL;
        if (back && len == strlen(v->inputs[i]) && memcmp(back, v->inputs[i], len) == 0)
            round++;
        else
            printf("  %s vector %d: decode(encode(s)) != s\n", label, i);
        free(back);
        free(got);
    }
    if (expect) {
        printf("  %s: %d of %d vectors match, %d round trips\n", label, matched, v->n, round);
        CHECK(matched == v->n, "%s: %d of %d vectors match", label, matched, v->n);
    } else {
        printf("  %s: %d of %d round trips\n", label, round, v->n);
    }
    CHECK(round == v->n, "%s: %d of %d round trips", label, round, v->n);
}

static void test_vectors(const char *label, const char *vocab_rel, const char *vec_rel, bool expect)
{
    const char *path = shared_path(vocab_rel), *vec = shared_path(vec_rel);
    char inp[1100];
    snprintf(inp, sizeof inp, "%s.inp", vec);
    vectors v;
    if (!exists(path) || !exists(inp)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    bool have = load_vectors(vec, &v);
    CHECK(have, "%s: read %s .inp/.out", label, vec_rel);
    tlm_tokenizer *tok = have ? load(path) : NULL;
    if (tok) run_vectors(label, tok, &v, expect);
    tlm_tokenizer_free(tok);
    free_vectors(&v);
}

/* Random byte strings (ill-formed UTF-8 included) decode back to themselves exactly. */
static void fuzz_round_trip(const char *label, const tlm_tokenizer *tok)
{
    static const char *atoms[] = {" ",
                                  "  ",
                                  "   ",
                                  "\t\t",
                                  "\n",
                                  "a",
                                  "The",
                                  "'s",
                                  "3",
                                  "42",
                                  "\xC3\xA9",
                                  "\xE4\xBD\xA0",
                                  "\xF0\x9F\xA6\x99",
                                  "\xFF",
                                  "\x80",
                                  "\xE2\x96",
                                  "\xC3",
                                  "<|endoftext|>",
                                  "<|im_start|>",
                                  "e\xCC\x81",
                                  "\r\n",
                                  "!!"};
    uint64_t x = 0x2545F4914F6CDD1Dull;
    int bad = 0;
    for (int t = 0; t < 1000; t++) {
        char buf[256];
        size_t n = 0;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int parts = (int)(x % 20);
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
        char *back = ids ? decode(tok, ids, m, &len) : NULL;
        /* NFC vocabularies change e + U+0301 into é: compare after that one rewrite. */
        bool ok = back && len == n && memcmp(back, buf, n) == 0;
        if (!ok && back && tok->nfc) {
            char *nfc;
            uint64_t nl;
            if (tlm_utf8_nfc(buf, n, &nfc, &nl) == TLM_OK) {
                ok = nl == len && memcmp(nfc, back, len) == 0;
                free(nfc);
            }
        }
        if (!ok && bad++ < 3) printf("  %s: round trip fails for %zu bytes\n", label, n);
        free(back);
        free(ids);
    }
    CHECK(bad == 0, "%s: 1000 random byte strings round-trip (%d failures)", label, bad);
}

/* ---- real vocabularies: ids, specials, flags ------------------------------------------ */

static void test_gpt2(void)
{
    const char *path = shared_path("vocab/llamacpp/ggml-vocab-gpt-2.gguf");
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *tok = load(path);
    if (!tok) return;
    CHECK(tlm_tokenizer_n_vocab(tok) == 50257 && tlm_tokenizer_bos(tok) == 50256 &&
              tlm_tokenizer_eos(tok) == 50256 && !tlm_tokenizer_adds_bos(tok),
          "gpt-2: 50257 tokens, bos = eos = 50256, no BOS added");
    CHECK(ids_are(tok, "Hello world", false, 2, 15496, 995), "gpt-2: Hello world = 15496 995");
    CHECK(ids_are(tok, "<|endoftext|>", true, 1, 50256), "gpt-2: special <|endoftext|>");
    int32_t n = 0;
    int32_t *ids = encode(tok, "<|endoftext|>", false, &n);
    bool plain = ids && n > 1;
    for (int32_t i = 0; ids && i < n; i++)
        if (ids[i] == 50256) plain = false;
    CHECK(plain, "gpt-2: without special parsing <|endoftext|> is plain text");
    free(ids);
    size_t len;
    const char *p = tlm_token_piece(tok, -1, 50256, &len);
    CHECK(p && len == 0, "gpt-2: the control token decodes to nothing");
    p = tlm_token_piece(tok, -1, 995, &len);
    CHECK(p && len == 6 && memcmp(p, " world", 6) == 0, "gpt-2: piece 995 is \" world\"");
    CHECK(tlm_tokenizer_find(tok, "<|endoftext|>") == 50256 &&
              tlm_tokenizer_find(tok, " world") == 995,
          "gpt-2: find by text");
    /* No NFC for GPT-2: e + combining acute differs from é. */
    int32_t a = 0, b = 0;
    int32_t *x = encode(tok, "e\xCC\x81", false, &a), *y = encode(tok, "\xC3\xA9", false, &b);
    CHECK(x && y && (a != b || memcmp(x, y, (size_t)a * 4) != 0), "gpt-2: no NFC");
    free(x);
    free(y);
    fuzz_round_trip("gpt-2", tok);
    tlm_tokenizer_free(tok);
}

static void test_phi2(void)
{
    const char *dir = shared_path("vocab/phi-2");
    if (!exists(dir)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *tok = load(dir);
    if (!tok) return;
    CHECK(tlm_tokenizer_n_vocab(tok) == 50295 && tlm_tokenizer_eos(tok) == 50256 &&
              !tlm_tokenizer_adds_bos(tok),
          "phi-2: 50295 tokens, eos 50256, no BOS added");
    /* Added whitespace tokens, longest first: 31 spaces = 50257, 2 tabs = 50294. */
    char spaces[40];
    memset(spaces, ' ', 33);
    spaces[33] = '\0';
    int32_t n = 0;
    int32_t *ids = encode(tok, spaces, false, &n);
    CHECK(ids && n == 2 && ids[0] == 50257, "phi-2: 33 spaces start with the 31-space token");
    free(ids);
    CHECK(ids_are(tok, "\t\tx", false, 2, 50294, 87), "phi-2: two tabs are token 50294");
    CHECK(tlm_tokenizer_chat_template(tok) == NULL, "phi-2: no chat template");
    fuzz_round_trip("phi-2", tok);
    tlm_tokenizer_free(tok);
}

static void test_qwen(void)
{
    const char *dir = shared_path("vocab/qwen2"), *tik = shared_path("vocab/qwen/qwen.tiktoken");
    if (!exists(dir) || !exists(tik)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *q2 = load(dir), *q1 = load(tik);
    if (!q2 || !q1) {
        tlm_tokenizer_free(q1);
        tlm_tokenizer_free(q2);
        return;
    }
    CHECK(tlm_tokenizer_n_vocab(q2) == 151646 && tlm_tokenizer_eos(q2) == 151645 &&
              tlm_tokenizer_bos(q2) == -1,
          "qwen2: 151646 tokens, eos <|im_end|> 151645 (tokenizer_config), no bos");
    CHECK(tlm_tokenizer_n_vocab(q1) == 151851 && tlm_tokenizer_eos(q1) == 151643 &&
              tlm_tokenizer_find(q1, "<|im_start|>") == 151644 &&
              tlm_tokenizer_find(q1, "<|extra_0|>") == 151646 &&
              tlm_tokenizer_find(q1, "<|extra_204|>") == 151850,
          "qwen v1: 151851 tokens, specials 151643.. as in tokenization_qwen.py");
    const char *t = "<|im_start|>user\nHi<|im_end|>";
    int32_t a = 0, b = 0;
    int32_t *x = encode(q2, t, true, &a), *y = encode(q1, t, true, &b);
    CHECK(x && y && a == b && a >= 4 && x[0] == 151644 && x[a - 1] == 151645 &&
              memcmp(x, y, (size_t)a * 4) == 0,
          "qwen2 and qwen v1 agree on a ChatML turn with special parsing");
    free(x);
    free(y);
    /* NFC: e + U+0301 encodes as é. */
    x = encode(q2, "Cafe\xCC\x81", false, &a);
    y = encode(q2, "Caf\xC3\xA9", false, &b);
    CHECK(x && y && a == b && memcmp(x, y, (size_t)a * 4) == 0, "qwen2: NFC before encoding");
    free(x);
    free(y);
    /* Single digits (\p{N} alone). */
    CHECK(ids_are(q2, "2024", false, 4, 17, 15, 17, 19), "qwen2: digits split one by one");
    fuzz_round_trip("qwen2", q2);
    fuzz_round_trip("qwen v1", q1);
    tlm_tokenizer_free(q1);
    tlm_tokenizer_free(q2);
}

static void test_stablelm2(void)
{
    const char *path = shared_path("vocab/llamacpp/ggml-vocab-stablelm2.gguf");
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *tok = load(path);
    if (!tok) return;
    CHECK(tlm_tokenizer_n_vocab(tok) == 100352 && tlm_tokenizer_eos(tok) == 100257,
          "stablelm2: 100352 tokens, eos 100257");
    CHECK(tlm_tokenizer_find(tok, "<|im_start|>") == 100277, "stablelm2: <|im_start|> is 100277");
    CHECK(tlm_tokenizer_chat_template(tok) != NULL, "stablelm2: carries a chat template");
    fuzz_round_trip("stablelm2", tok);
    tlm_tokenizer_free(tok);
}

/* The SentencePiece tokenizer.model reader gives the GGUF's results. */
static void test_spmodel(void)
{
    const char *path = shared_path("vocab/llama2/tokenizer.model");
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *tok = load(path);
    if (!tok) return;
    CHECK(tlm_tokenizer_n_vocab(tok) == 32000 && tlm_tokenizer_bos(tok) == 1 &&
              tlm_tokenizer_eos(tok) == 2 && tlm_tokenizer_adds_bos(tok),
          "tokenizer.model: 32000 pieces, bos 1, eos 2 (trainer_spec), adds BOS");
    CHECK(tok->add_space_prefix && !tok->remove_extra_ws && tok->byte_id[0x0A] == 13,
          "tokenizer.model: add_dummy_prefix, no whitespace removal, <0x0A> = 13");
    CHECK(ids_are(tok, "Hello world", false, 2, 15043, 3186), "tokenizer.model: Hello world");
    /* SentencePiece reads each ill-formed byte as U+FFFD (piece 30140 "�"). */
    CHECK(ids_are(tok,
                  "a\xFF"
                  "b",
                  false, 3, 263, 30140, 29890),
          "tokenizer.model: FF is U+FFFD");
    tlm_tokenizer_free(tok);
}

/* ---- streaming decode ----------------------------------------------------------------- */

static bool valid_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t k = c < 0x80             ? 1
                   : (c & 0xE0) == 0xC0 ? 2
                   : (c & 0xF0) == 0xE0 ? 3
                   : (c & 0xF8) == 0xF0 ? 4
                                        : 0;
        if (k == 0 || i + k > n) return false;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80) return false;
        i += k;
    }
    return true;
}

/* Streams ids through a detok; checks every chunk is whole UTF-8; returns the text. */
static char *stream(const tlm_tokenizer *tok, int32_t prev, const int32_t *ids, int32_t n,
                    size_t *len, int *n_empty, bool *chunks_ok)
{
    tlm_detok *d = NULL;
    if (tlm_detok_create(tok, &d) != TLM_OK) return NULL;
    tlm_detok_reset(d, prev);
    char *out = malloc(4096);
    size_t at = 0;
    *n_empty = 0;
    *chunks_ok = true;
    for (int32_t i = 0; i <= n && out; i++) {
        size_t l;
        const char *p = i < n ? tlm_detok_push(d, ids[i], &l) : tlm_detok_flush(d, &l);
        if (!p || at + l >= 4096) {
            *chunks_ok = false;
            break;
        }
        if (l == 0) (*n_empty)++;
        if (!valid_utf8(p, l)) *chunks_ok = false;
        memcpy(out + at, p, l);
        at += l;
    }
    tlm_detok_free(d);
    *len = at;
    return out;
}

static void test_detok(void)
{
    const char *path = shared_path("vocab/llamacpp/ggml-vocab-gpt-2.gguf");
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tlm_tokenizer *tok = load(path);
    if (!tok) return;
    /* Emoji and CJK split into byte tokens across ids. */
    const char *text = "llama \xF0\x9F\xA6\x99 \xE4\xBD\xA0\xE5\xA5\xBD!";
    int32_t n = 0;
    int32_t *ids = encode(tok, text, false, &n);
    size_t len = 0;
    int empty = 0;
    bool ok = false;
    char *s = ids ? stream(tok, -1, ids, n, &len, &empty, &ok) : NULL;
    CHECK(s && ok && len == strlen(text) && memcmp(s, text, len) == 0,
          "detok: every chunk is whole UTF-8 and the stream is the text");
    CHECK(empty >= 2, "detok: pieces ending inside a character wait (%d empty chunks)", empty);
    free(s);
    free(ids);
    /* Ill-formed bytes: U+FFFD per maximal subpart, as Python's errors="replace". */
    struct {
        const char *in, *want;
    } cases[] = {
        {"\xFF", "\xEF\xBF\xBD"},
        {"\xE2\x96"
         "A",
         "\xEF\xBF\xBD"
         "A"},
        {"\xF0\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"a\xF0\x9F\xA6", "a\xEF\xBF\xBD"}, /* cut short at the end: one U+FFFD at flush */
        {"\xC3\xA9\x80", "\xC3\xA9\xEF\xBF\xBD"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        ids = encode(tok, cases[c].in, false, &n);
        s = ids ? stream(tok, -1, ids, n, &len, &empty, &ok) : NULL;
        CHECK(s && ok && len == strlen(cases[c].want) && memcmp(s, cases[c].want, len) == 0,
              "detok: ill-formed case %zu", c);
        free(s);
        free(ids);
    }
    tlm_detok *d = NULL;
    size_t l;
    CHECK(tlm_detok_create(NULL, &d) == TLM_ERR_ARG && !d, "detok: NULL tokenizer");
    CHECK(tlm_detok_create(tok, &d) == TLM_OK && !tlm_detok_push(d, 50257, &l) && l == 0,
          "detok: an id out of range gives NULL");
    tlm_detok_free(d);
    tlm_detok_free(NULL);
    tlm_tokenizer_free(tok);

    /* SentencePiece byte pieces <0xE2> <0x96> <0x80> make one character ▀. */
    path = shared_path("vocab/llamacpp/ggml-vocab-llama-spm.gguf");
    if (!exists(path)) {
        MISSING(1, "test data under ../shared");
        return;
    }
    tok = load(path);
    if (!tok) return;
    int32_t bytes[4] = {15043, 3 + 0xE2, 3 + 0x96, 3 + 0x80}; /* <0xNN> = 3 + NN */
    s = stream(tok, 1, bytes, 4, &len, &empty, &ok);
    CHECK(s && ok && len == 8 && memcmp(s, "Hello\xE2\x96\x80", 8) == 0 && empty == 3,
          "detok: spm byte pieces join, BOS drops the dummy space (%zu bytes, %d empty)", len,
          empty);
    free(s);
    tlm_tokenizer_free(tok);
}

/* ---- malformed files ------------------------------------------------------------------ */

static void expect_load(const char *name, tlm_status want, const char *needle)
{
    tlm_tokenizer *tok = (tlm_tokenizer *)&tok; /* must be reset to NULL on failure */
    tlm_error err = {0};
    tlm_status st = tlm_tokenizer_load(tmp_file(name), &tok, &err);
    CHECK(st == want && (st == TLM_OK) == (tok != NULL), "%s: status %d (want %d): %s", name,
          (int)st, (int)want, err.message);
    CHECK(st == TLM_OK || !needle || strstr(err.message, needle), "%s: message names \"%s\": %s",
          name, needle, err.message);
    if (st == TLM_OK) tlm_tokenizer_free(tok);
}

/* A small tokenizer.json around the given model / normalizer / pre_tokenizer parts. */
static void json_case(const char *name, const char *model, const char *normalizer, const char *pre,
                      tlm_status want, const char *needle)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{\"added_tokens\": [{\"id\": 4, \"content\": \"<|end|>\", \"special\": true}],"
             " \"normalizer\": %s, \"pre_tokenizer\": %s, \"model\": %s}",
             normalizer, pre, model);
    write_str(name, buf);
    expect_load(name, want, needle);
}

#define GOOD_MODEL                                                                                 \
    "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"\\u0120\": 3},"              \
    " \"merges\": [\"a b\"]}"
#define BYTELEVEL "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}"

static void test_malformed_json(void)
{
    json_case("ok.json", GOOD_MODEL, "null", BYTELEVEL, TLM_OK, NULL);
    tlm_tokenizer *tok = NULL;
    if (tlm_tokenizer_load(tmp_file("ok.json"), &tok, NULL) == TLM_OK) {
        CHECK(ids_are(tok, "ab ba", false, 4, 2, 3, 1, 0), "tiny tokenizer.json: ab, space, b, a");
        CHECK(ids_are(tok, "<|end|>", true, 1, 4), "tiny tokenizer.json: added special token");
        tlm_tokenizer_free(tok);
    }
    json_case(
        "arrays.json",
        "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [[\"a\", "
        "\"b\"]]}",
        "{\"type\": \"NFC\"}",
        "{\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\", \"pattern\": "
        "{\"Regex\": \"\\\\p{L}+\"}, \"behavior\": \"Isolated\", \"invert\": false}, "
        "{\"type\": \"ByteLevel\", \"use_regex\": false}]}",
        TLM_OK, NULL);
    json_case("wordpiece.json", "{\"type\": \"WordPiece\", \"vocab\": {}}", "null", BYTELEVEL,
              TLM_ERR_UNSUPPORTED, "WordPiece");
    json_case("fallback.json",
              "{\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {\"a\": 0}, \"merges\": []}",
              "null", BYTELEVEL, TLM_ERR_UNSUPPORTED, "byte_fallback");
    json_case("nfkc.json", GOOD_MODEL, "{\"type\": \"NFKC\"}", BYTELEVEL, TLM_ERR_UNSUPPORTED,
              "NFKC");
    json_case("metaspace.json", GOOD_MODEL, "null", "{\"type\": \"Metaspace\"}",
              TLM_ERR_UNSUPPORTED, "Metaspace");
    json_case("noregex.json", GOOD_MODEL, "null", "null", TLM_ERR_UNSUPPORTED, "pre_tokenizer");
    json_case("badmerge.json",
              "{\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1}, \"merges\": [\"a b\"]}", "null",
              BYTELEVEL, TLM_ERR_FORMAT, "merged piece");
    json_case("nomerge.json", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"ab\"]}",
              "null", BYTELEVEL, TLM_ERR_FORMAT, "model.merges[0]");
    json_case("numbermerge.json", "{\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [7]}",
              "null", BYTELEVEL, TLM_ERR_FORMAT, "model.merges[0]");
    json_case("negid.json", "{\"type\": \"BPE\", \"vocab\": {\"a\": -1}, \"merges\": []}", "null",
              BYTELEVEL, TLM_ERR_FORMAT, "model.vocab");
    json_case("hugeid.json", "{\"type\": \"BPE\", \"vocab\": {\"a\": 1e12}, \"merges\": []}",
              "null", BYTELEVEL, TLM_ERR_FORMAT, "model.vocab");
    json_case("badregex.json", GOOD_MODEL, "null",
              "{\"type\": \"Split\", \"pattern\": {\"Regex\": \"(\"}, \"behavior\": \"Isolated\"}",
              TLM_ERR_UNSUPPORTED, "regex");
    write_str("notjson.json", "{\"model\": ");
    expect_load("notjson.json", TLM_ERR_FORMAT, "JSON");

    /* vocab.json + merges.txt in their own directory. */
    char dir[300];
    snprintf(dir, sizeof dir, "%s/vm", tmp_dir);
    mkdir(dir, 0700);
    write_str("vm/vocab.json", "{\"a\": 0, \"b\": 1, \"ab\": 2}");
    write_str("vm/merges.txt", "#version: 0.2\r\na b\r\n\r\n");
    expect_load("vm", TLM_OK, NULL);
    write_str("vm/merges.txt", "#version: 0.2\na b\nab\n");
    expect_load("vm/vocab.json", TLM_ERR_FORMAT, "line 3");
    write_str("vm/merges.txt", "a b\n");
    write_str("vm/tokenizer_config.json", "{\"tokenizer_class\": \"BertTokenizer\"}");
    expect_load("vm", TLM_ERR_UNSUPPORTED, "BertTokenizer");
    write_str("vm/tokenizer_config.json", "{\"tokenizer_class\": \"GPT2Tokenizer\", "
                                          "\"eos_token\": \"<nope>\"}");
    expect_load("vm", TLM_ERR_FORMAT, "eos_token");
    write_str("vm/tokenizer_config.json", "[1, 2]");
    expect_load("vm", TLM_ERR_FORMAT, "tokenizer_config.json");
    unlink(tmp_file("vm/vocab.json"));
    unlink(tmp_file("vm/merges.txt"));
    unlink(tmp_file("vm/tokenizer_config.json"));
    expect_load("vm", TLM_ERR_IO, "no tokenizer.json");
    rmdir(dir);
}

static void test_malformed_tiktoken(void)
{
    write_str("a.tiktoken", "YQ== 0\nYg== 1\n");
    expect_load("a.tiktoken", TLM_ERR_UNSUPPORTED, "Qwen");
    write_str("b.tiktoken", "YQ== 0\nY!== 1\n");
    expect_load("b.tiktoken", TLM_ERR_UNSUPPORTED, NULL); /* the count is checked first */
    write_str("c.tiktoken", "YQ==0\n");
    expect_load("c.tiktoken", TLM_ERR_FORMAT, "line 1");
    write_str("d.tiktoken", "YQ== -3\n");
    expect_load("d.tiktoken", TLM_ERR_FORMAT, "line 1");
    /* The real file with one rank changed, one base64 broken, and cut short. */
    size_t len;
    char *q = read_all(shared_path("vocab/qwen/qwen.tiktoken"), &len);
    if (!q) {
        MISSING(1, "test data under ../shared");
        return;
    }
    char *line2 = strchr(q, '\n') + 1;
    char *sp = strchr(line2, ' ');
    char save = sp[1];
    sp[1] = '7'; /* rank 1 -> 7 */
    write_file("rank.tiktoken", q, len);
    expect_load("rank.tiktoken", TLM_ERR_FORMAT, "line 2");
    sp[1] = save;
    line2[0] = '*';
    write_file("b64.tiktoken", q, len);
    expect_load("b64.tiktoken", TLM_ERR_FORMAT, "base64");
    line2[0] = 'I';
    write_file("cut.tiktoken", q, len / 2); /* mid-line: the last line has no rank */
    expect_load("cut.tiktoken", TLM_ERR_FORMAT, "line");
    size_t cut = (size_t)(strchr(q + len / 2, '\n') - q) + 1;
    write_file("cut.tiktoken", q, cut); /* whole lines: fewer ranks than Qwen's */
    expect_load("cut.tiktoken", TLM_ERR_UNSUPPORTED, "ranks");
    free(q);
}

/* Small protobuf writer for SentencePiece models. */
typedef struct pbuf {
    uint8_t p[4096];
    size_t n;
} pbuf;

static void pb_varint(pbuf *b, uint64_t v)
{
    do {
        uint8_t c = v & 0x7F;
        v >>= 7;
        b->p[b->n++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
}

static void pb_bytes(pbuf *b, uint32_t field, const void *data, size_t len)
{
    pb_varint(b, (uint64_t)field << 3 | 2);
    pb_varint(b, len);
    memcpy(b->p + b->n, data, len);
    b->n += len;
}

static void pb_piece(pbuf *b, const char *text, float score, int type)
{
    pbuf m = {.n = 0};
    pb_bytes(&m, 1, text, strlen(text));
    pb_varint(&m, 2 << 3 | 5);
    memcpy(m.p + m.n, &score, 4);
    m.n += 4;
    pb_varint(&m, 3 << 3 | 0);
    pb_varint(&m, (uint64_t)type);
    pb_bytes(b, 1, m.p, m.n);
}

static size_t sp_model(uint8_t *out, int model_type, bool charsmap, bool remove_ws)
{
    pbuf b = {.n = 0};
    pb_piece(&b, "<unk>", 0, 2);
    pb_piece(&b, "<s>", 0, 3);
    pb_piece(&b, "</s>", 0, 3);
    pb_piece(&b, "\xE2\x96\x81", -1, 1);
    pb_piece(&b, "a", -2, 1);
    pb_piece(&b,
             "\xE2\x96\x81"
             "a",
             -1, 1);
    pbuf t = {.n = 0};
    pb_varint(&t, 3 << 3 | 0);
    pb_varint(&t, (uint64_t)model_type);
    pb_varint(&t, 42 << 3 | 0); /* eos_id = 2, written; unk/bos take their defaults */
    pb_varint(&t, 2);
    pb_varint(&t, 43 << 3 | 0); /* pad_id = -1: a ten-byte varint */
    pb_varint(&t, (uint64_t)-1);
    pb_bytes(&b, 2, t.p, t.n);
    pbuf nm = {.n = 0};
    pb_bytes(&nm, 1, "identity", 8);
    if (charsmap) pb_bytes(&nm, 2, "xyz", 3);
    pb_varint(&nm, 4 << 3 | 0);
    pb_varint(&nm, remove_ws);
    pb_bytes(&b, 3, nm.p, nm.n);
    memcpy(out, b.p, b.n);
    return b.n;
}

static void test_malformed_spmodel(void)
{
    uint8_t m[4096];
    size_t n = sp_model(m, 2, false, true);
    write_file("tiny.model", m, n);
    expect_load("tiny.model", TLM_OK, NULL);
    tlm_tokenizer *tok = NULL;
    if (tlm_tokenizer_load(tmp_file("tiny.model"), &tok, NULL) == TLM_OK) {
        CHECK(tok->bos == 1 && tok->eos == 2 && tok->unk == 0, "tiny.model: ids");
        /* remove_extra_whitespaces: "  a   a " is "a a". */
        CHECK(ids_are(tok, "  a   a ", false, 2, 5, 5), "tiny.model: extra whitespace removed");
        CHECK(ids_are(tok, "   ", false, 0), "tiny.model: only spaces give nothing");
        tlm_tokenizer_free(tok);
    }
    n = sp_model(m, 1, false, true);
    write_file("unigram.model", m, n);
    expect_load("unigram.model", TLM_ERR_UNSUPPORTED, "BPE");
    n = sp_model(m, 2, true, true);
    write_file("charsmap.model", m, n);
    expect_load("charsmap.model", TLM_ERR_UNSUPPORTED, "character map");
    /* Every truncation of the real model: FORMAT (or a smaller valid model), never a crash. */
    size_t len;
    char *real = read_all(shared_path("vocab/llama2/tokenizer.model"), &len);
    if (!real) {
        MISSING(1, "test data under ../shared");
        return;
    }
    int bad = 0, ok = 0;
    for (size_t cut = 1; cut < len; cut += 4999) {
        write_file("cut.model", real, cut);
        tok = NULL;
        tlm_status st = tlm_tokenizer_load(tmp_file("cut.model"), &tok, NULL);
        if (st == TLM_OK)
            ok++;
        else if (st != TLM_ERR_FORMAT && st != TLM_ERR_UNSUPPORTED)
            bad++;
        if ((st == TLM_OK) != (tok != NULL)) bad++;
        tlm_tokenizer_free(tok);
    }
    CHECK(bad == 0,
          "tokenizer.model cut at every 4999th byte: malformed, never a crash (%d bad, "
          "%d loadable)",
          bad, ok);
    /* A length that runs past the end. */
    real[1] = (char)0xFF;
    real[2] = (char)0xFF;
    real[3] = 0x7F;
    write_file("lie.model", real, 64);
    expect_load("lie.model", TLM_ERR_FORMAT, "offset");
    free(real);
}

/* A byte-level GGUF vocabulary built here. */
typedef struct gbuf {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
} gbuf;

static void put(gbuf *b, const void *d, size_t len)
{
    if (b->n + len > b->cap) {
        while (b->n + len > b->cap)
            b->cap = b->cap ? 2 * b->cap : 1024;
        uint8_t *p = realloc(b->p, b->cap);
        if (!p) exit(2);
        b->p = p;
    }
    memcpy(b->p + b->n, d, len);
    b->n += len;
}
static void put_u32(gbuf *b, uint32_t v) { put(b, &v, 4); }
static void put_u64(gbuf *b, uint64_t v) { put(b, &v, 8); }
static void put_s(gbuf *b, const char *s)
{
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static void kv_str(gbuf *b, const char *k, const char *v)
{
    put_s(b, k);
    put_u32(b, GGUF_STRING);
    put_s(b, v);
    b->n_kv++;
}
static void kv_strs(gbuf *b, const char *k, const char *const *v, int n)
{
    put_s(b, k);
    put_u32(b, GGUF_ARRAY);
    put_u32(b, GGUF_STRING);
    put_u64(b, (uint64_t)n);
    for (int i = 0; i < n; i++)
        put_s(b, v[i]);
    b->n_kv++;
}

static void gguf_case(const char *name, const char *pre, const char *merge, tlm_status want,
                      const char *needle)
{
    static const char *const tokens[] = {"a", "b", "ab", "\xC4\xA0", "<|x|>"}; /* Ġ = space */
    gbuf kv = {0};
    kv_str(&kv, "tokenizer.ggml.model", "gpt2");
    if (pre) kv_str(&kv, "tokenizer.ggml.pre", pre);
    kv_strs(&kv, "tokenizer.ggml.tokens", tokens, 5);
    put_s(&kv, "tokenizer.ggml.token_type");
    put_u32(&kv, GGUF_ARRAY);
    put_u32(&kv, GGUF_I32);
    put_u64(&kv, 5);
    int32_t types[5] = {1, 1, 1, 1, 3};
    put(&kv, types, sizeof types);
    kv.n_kv++;
    kv_strs(&kv, "tokenizer.ggml.merges", &merge, 1);
    gbuf f = {0};
    put(&f, "GGUF", 4);
    put_u32(&f, 3);
    put_u64(&f, 0);
    put_u64(&f, kv.n_kv);
    put(&f, kv.p, kv.n);
    write_file(name, f.p, f.n);
    free(kv.p);
    free(f.p);
    expect_load(name, want, needle);
}

static void test_malformed_gguf(void)
{
    gguf_case("ok.gguf", "gpt-2", "a b", TLM_OK, NULL);
    tlm_tokenizer *tok = NULL;
    if (tlm_tokenizer_load(tmp_file("ok.gguf"), &tok, NULL) == TLM_OK) {
        CHECK(ids_are(tok, "ab ba", false, 4, 2, 3, 1, 0), "tiny gpt2 GGUF: ab, space, b, a");
        CHECK(ids_are(tok, "<|x|>", true, 1, 4), "tiny gpt2 GGUF: control token, literal text");
        CHECK(tok->bos == -1 && !tok->add_bos, "tiny gpt2 GGUF: no BOS by default");
        tlm_tokenizer_free(tok);
    }
    gguf_case("qwen2.gguf", "qwen2", "a b", TLM_OK, NULL);
    gguf_case("nopre.gguf", NULL, "a b", TLM_ERR_UNSUPPORTED, "tokenizer.ggml.pre");
    gguf_case("llama3.gguf", "llama-bpe", "a b", TLM_ERR_UNSUPPORTED, "llama-bpe");
    gguf_case("twospaces.gguf", "gpt-2", "a  b", TLM_ERR_FORMAT, "merges[0]");
    gguf_case("nospace.gguf", "gpt-2", "ab", TLM_ERR_FORMAT, "merges[0]");
    gguf_case("missing.gguf", "gpt-2", "a c", TLM_ERR_FORMAT, "right piece");
}

/* A Hugging Face directory of a SentencePiece model (Phi-3's layout): its tokenizer.json is
 * not read, the tokenizer.model beside it is, with added tokens, EOS and the chat template
 * from tokenizer_config.json. */
static void test_spm_dir(void)
{
    size_t len;
    char *model = read_all(shared_path("vocab/llama2/tokenizer.model"), &len);
    if (!model) {
        MISSING(1, "test data under ../shared");
        return;
    }
    char dir[300];
    snprintf(dir, sizeof dir, "%s/phi3dir", tmp_dir);
    mkdir(dir, 0700);
    write_file("phi3dir/tokenizer.model", model, len);
    free(model);
    write_str("phi3dir/tokenizer.json",
              "{\"model\": {\"type\": \"BPE\", \"byte_fallback\": true, \"vocab\": {}}}");
    write_str("phi3dir/tokenizer_config.json",
              "{\"add_bos_token\": true, \"eos_token\": \"<|endoftext|>\","
              " \"chat_template\": \"{{ '<|user|>' }}{{ '<|end|>' }}{{ '<|assistant|>' }}"
              "{{ '<|system|>' }}\", \"added_tokens_decoder\": {"
              "\"2\": {\"content\": \"</s>\", \"special\": false},"
              "\"32000\": {\"content\": \"<|endoftext|>\", \"special\": true},"
              "\"32007\": {\"content\": \"<|end|>\", \"special\": true},"
              "\"32010\": {\"content\": \"<|user|>\", \"special\": true}}}");
    tlm_tokenizer *tok = load(dir);
    if (tok) {
        CHECK(tlm_tokenizer_n_vocab(tok) == 32011 && tlm_tokenizer_eos(tok) == 32000 &&
                  tlm_tokenizer_bos(tok) == 1 && tlm_tokenizer_adds_bos(tok),
              "spm directory: 32011 ids, eos <|endoftext|> from the config, BOS");
        CHECK(tlm_tokenizer_find(tok, "<|end|>") == 32007 && tok->types[32005] == TLM_TOK_UNUSED,
              "spm directory: added tokens at their ids, holes unused");
        CHECK(ids_are(tok, "<|user|>\nHi", true, 4, 32010, 29871, 13, 18567),
              "spm directory: special parsing, then a dummy-prefixed fragment");
        CHECK(tlm_tokenizer_chat_template(tok) != NULL, "spm directory: chat template kept");
        tlm_tokenizer_free(tok);
    }
    unlink(tmp_file("phi3dir/tokenizer.model"));
    unlink(tmp_file("phi3dir/tokenizer.json"));
    unlink(tmp_file("phi3dir/tokenizer_config.json"));
    rmdir(dir);
}

static void test_load_args(void)
{
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    CHECK(tlm_tokenizer_load(NULL, &tok, &err) == TLM_ERR_ARG, "load(NULL)");
    CHECK(tlm_tokenizer_load(tmp_file("nothing"), &tok, &err) == TLM_ERR_IO && !tok,
          "load of a missing path: TLM_ERR_IO");
    CHECK(tlm_tokenizer_load(tmp_dir, &tok, &err) == TLM_ERR_IO && !tok,
          "load of a directory with no tokenizer: TLM_ERR_IO");
    write_str("x.bin", "\x1b\0\0\0abc");
    expect_load("x.bin", TLM_ERR_UNSUPPORTED, "tlm_tokenizer_load_llama2c");
    CHECK(tlm_tokenizer_n_vocab(NULL) == 0 && tlm_tokenizer_find(NULL, "a") == -1 &&
              !tlm_tokenizer_adds_bos(NULL) && !tlm_tokenizer_chat_template(NULL),
          "getters accept NULL");
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tlm_test_bpe_XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("cannot create a temporary directory: %s\n", strerror(errno));
        printf("test_tokenizer_bpe: 0 passed, 1 failed\n");
        return 1;
    }
    const char *gpt2 = "vocab/llamacpp/ggml-vocab-gpt-2.gguf";
    const char *phi2 = "vocab/llamacpp/ggml-vocab-phi-2.gguf";
    const char *qwen2 = "vocab/llamacpp/ggml-vocab-qwen2.gguf";
    test_vectors("gpt-2 GGUF", gpt2, gpt2, true);
    test_vectors("phi-2 directory", "vocab/phi-2", phi2, true);
    test_vectors("phi-2 tokenizer.json", "vocab/phi-2/tokenizer.json", phi2, true);
    test_vectors("phi-2 vocab.json+merges.txt", "vocab/phi-2/vocab.json", phi2, true);
    test_vectors("qwen2 directory", "vocab/qwen2", qwen2, true);
    test_vectors("qwen2 vocab.json+merges.txt", "vocab/qwen2/vocab.json", qwen2, true);
    test_vectors("qwen v1 qwen.tiktoken", "vocab/qwen/qwen.tiktoken", qwen2, true);
    test_vectors("stablelm2 GGUF", "vocab/llamacpp/ggml-vocab-stablelm2.gguf", qwen2, false);
    test_vectors("llama2 tokenizer.model", "vocab/llama2/tokenizer.model",
                 "vocab/llamacpp/ggml-vocab-llama-spm.gguf", true);
    test_gpt2();
    test_phi2();
    test_qwen();
    test_stablelm2();
    test_spmodel();
    test_detok();
    test_malformed_json();
    test_malformed_tiktoken();
    test_malformed_spmodel();
    test_malformed_gguf();
    test_spm_dir();
    test_load_args();

    /* Remove what this test wrote (only those names). */
    const char *names[] = {
        "ok.json",        "arrays.json",  "wordpiece.json", "fallback.json",  "nfkc.json",
        "metaspace.json", "noregex.json", "badmerge.json",  "nomerge.json",   "numbermerge.json",
        "negid.json",     "hugeid.json",  "badregex.json",  "notjson.json",   "a.tiktoken",
        "b.tiktoken",     "c.tiktoken",   "d.tiktoken",     "rank.tiktoken",  "b64.tiktoken",
        "cut.tiktoken",   "tiny.model",   "unigram.model",  "charsmap.model", "cut.model",
        "lie.model",      "ok.gguf",      "qwen2.gguf",     "nopre.gguf",     "llama3.gguf",
        "twospaces.gguf", "nospace.gguf", "missing.gguf",   "x.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(tmp_file(names[i]));
    rmdir(tmp_dir);

    return finish("tokenizer_bpe");
}
