/* tlm-tokenize - text to token ids and back, with any tokenizer libtinylm reads.
 *
 *   tlm-tokenize -m MODEL "text"           one line per token: id and piece
 *   tlm-tokenize --vocab FILE --ids "text" the ids only, space-separated, one line
 *   tlm-tokenize --vocab FILE --decode "15043 3186"
 *   tlm-tokenize --vocab FILE --bench english.txt
 *   tlm-tokenize --vocab FILE --hex-lines < inputs   (one hex-encoded text per line; tests)
 *   tlm-tokenize --vocab FILE --chat phi3 < conv     (tlm_chat_tokenize of "role hex" lines) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

typedef struct options {
    const char *path, *text, *file, *decode, *bench, *chat;
    bool ids_only, bos, hex_lines, show_template, use_stdin;
    int special; /* 1 --special, 0 --no-special, -1 as the vocabulary's own library does */
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-tokenize (-m MODEL | --vocab FILE) [options] [TEXT]\n"
            "  -m, --vocab PATH  GGUF file, tokenizer.json, vocab.json, tokenizer.model,\n"
            "                    .tiktoken file, or a directory holding one of them\n"
            "  --ids             print only the ids, space-separated, on one line\n"
            "  --bos             put BOS first (when the vocabulary has one)\n"
            "  --special         text of control tokens (<|im_start|>, ...) becomes them\n"
            "  --no-special      control-token text is plain text\n"
            "                    default: as the vocabulary's own library does (GGUF,\n"
            "                    tokenizer.json, tiktoken: matched; tokenizer.model and\n"
            "                    llama2.c's tokenizer.bin: plain text)\n"
            "  -f FILE           read the text from FILE ('-': stdin)\n"
            "  --hex-lines       read lines of hex-encoded text from stdin; print one line of\n"
            "                    ids for each\n"
            "  --decode IDS      print the text of ids (\"1 15043\" or \"1,15043\")\n"
            "  --bench FILE      time tokenizing FILE repeated to 1 MiB\n"
            "  --template        print the chat template the vocabulary's files carry\n"
            "  --chat NAME       stdin: one message per line, \"ROLE HEX\" (content hex-encoded);\n"
            "                    print the ids of tlm_chat_tokenize with template NAME\n");
}

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (!strcmp(a, "--ids"))
            o->ids_only = true, takes = false;
        else if (!strcmp(a, "--bos"))
            o->bos = true, takes = false;
        else if (!strcmp(a, "--special"))
            o->special = 1, takes = false;
        else if (!strcmp(a, "--no-special"))
            o->special = 0, takes = false;
        else if (!strcmp(a, "--hex-lines"))
            o->hex_lines = true, takes = false;
        else if (!strcmp(a, "--template"))
            o->show_template = true, takes = false;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
            return false;
        else if (a[0] == '-' && a[1] && !v) {
            fprintf(stderr, "error: %s needs a value\n", a);
            return false;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--vocab"))
            o->path = v;
        else if (!strcmp(a, "-f"))
            o->file = v;
        else if (!strcmp(a, "--chat"))
            o->chat = v;
        else if (!strcmp(a, "--decode"))
            o->decode = v;
        else if (!strcmp(a, "--bench"))
            o->bench = v;
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "error: unknown argument '%s'\n", a);
            return false;
        } else if (!o->text) {
            o->text = a, takes = false;
        } else {
            fprintf(stderr, "error: more than one text argument\n");
            return false;
        }
        if (takes) i++;
    }
    if (!o->path) fprintf(stderr, "error: give -m MODEL or --vocab FILE\n");
    return o->path != NULL;
}

static char *read_stream(FILE *fp, size_t *len)
{
    size_t cap = 1 << 16, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            char *b = realloc(buf, 2 * cap + 1);
            if (!b) free(buf);
            buf = b;
            cap *= 2;
        }
    }
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

static char *read_path(const char *path, size_t *len)
{
    if (!strcmp(path, "-")) return read_stream(stdin, len);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "error: cannot open %s\n", path);
        return NULL;
    }
    char *buf = read_stream(fp, len);
    fclose(fp);
    return buf;
}

/* Encodes text; returns malloc'd ids (count in *n) or NULL after printing why. */
static int32_t *encode(const tlm_tokenizer *tok, const char *text, const options *o, int32_t *n)
{
    int32_t need = 0;
    tlm_status (*fn)(const tlm_tokenizer *, const char *, bool, int32_t *, int32_t, int32_t *) =
        o->special == 1 || (o->special < 0 && tlm_tokenizer_parses_special(tok))
            ? tlm_tokenize_special
            : tlm_tokenize;
    tlm_status st = fn(tok, text, o->bos, NULL, 0, &need);
    int32_t *ids = st == TLM_OK || st == TLM_ERR_BUFFER_TOO_SMALL
                       ? malloc(((size_t)need + 1) * sizeof *ids)
                       : NULL;
    if (ids && fn(tok, text, o->bos, ids, need, n) == TLM_OK) return ids;
    fprintf(stderr, "error: cannot tokenize: %s\n", tlm_status_string(st));
    free(ids);
    return NULL;
}

/* A piece for people: printable UTF-8 as is, other bytes as \xNN, in quotes. */
static void print_piece(const char *p, size_t n)
{
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)p[i];
        size_t k = c >= 0xC2 && c <= 0xDF   ? 2
                   : c >= 0xE0 && c <= 0xEF ? 3
                   : c >= 0xF0 && c <= 0xF4 ? 4
                                            : 1;
        bool ok = k > 1 && i + k <= n;
        for (size_t j = 1; ok && j < k; j++)
            ok = ((unsigned char)p[i + j] & 0xC0) == 0x80;
        if (ok) {
            fwrite(p + i, 1, k, stdout);
            i += k;
            continue;
        }
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            printf("\\n");
        else if (c == '\t')
            printf("\\t");
        else if (c >= 0x20 && c < 0x7F)
            putchar(c);
        else
            printf("\\x%02X", c);
        i++;
    }
    putchar('"');
}

static int run_text(const tlm_tokenizer *tok, const char *text, const options *o)
{
    int32_t n = 0;
    int32_t *ids = encode(tok, text, o, &n);
    if (!ids) return 1;
    for (int32_t i = 0; i < n; i++) {
        if (o->ids_only) {
            printf("%s%d", i ? " " : "", (int)ids[i]);
            continue;
        }
        size_t len;
        const char *p = tlm_token_piece(tok, i ? ids[i - 1] : -1, ids[i], &len);
        printf("%6d  ", (int)ids[i]);
        print_piece(p, len);
        putchar('\n');
    }
    if (o->ids_only) putchar('\n');
    free(ids);
    return 0;
}

static int hex_value(int c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes hex in place; false on a bad digit or a NUL byte. */
static bool unhex(char *s)
{
    size_t n = strlen(s), m = 0;
    if (n % 2) return false;
    for (size_t i = 0; i + 1 < n; i += 2) {
        int hi = hex_value(s[i]), lo = hex_value(s[i + 1]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
        s[m++] = (char)(hi * 16 + lo);
    }
    s[m] = '\0';
    return true;
}

/* A conversation from stdin ("ROLE HEX" per line, HEX may be empty) through
 * tlm_chat_tokenize with a generation prompt; the ids on one line. */
static int run_chat(const tlm_tokenizer *tok, const char *name)
{
    tlm_chat_template t = tlm_chat_template_from_name(name);
    if (t == TLM_CHAT_UNKNOWN) {
        fprintf(stderr, "error: unknown chat template '%s'\n", name);
        return 2;
    }
    size_t len;
    char *in = read_stream(stdin, &len);
    if (!in) return 1;
    tlm_chat_message msgs[64];
    int32_t n = 0;
    int rc = 0;
    for (char *line = in; *line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        char *sp = strchr(line, ' ');
        if (sp) *sp = '\0';
        if (n == 64 || !unhex(sp ? sp + 1 : line + strlen(line))) {
            fprintf(stderr, "error: bad conversation line (ROLE HEX, at most 64)\n");
            rc = 1;
        } else {
            msgs[n++] = (tlm_chat_message){line, sp ? sp + 1 : ""};
        }
        if (!nl) break;
        line = nl + 1;
    }
    int32_t need = 0, got = 0, *ids = NULL;
    tlm_error err = {0};
    if (rc == 0 && tlm_chat_tokenize(t, tok, msgs, n, true, NULL, 0, &need, &err) != TLM_OK &&
        need == 0)
        rc = 1;
    if (rc == 0 && !(ids = malloc(((size_t)need + 1) * sizeof *ids))) rc = 1;
    if (rc == 0 && tlm_chat_tokenize(t, tok, msgs, n, true, ids, need, &got, &err) != TLM_OK)
        rc = 1;
    if (rc == 0) {
        for (int32_t i = 0; i < got; i++)
            printf("%s%d", i ? " " : "", (int)ids[i]);
        printf("\n");
    } else if (err.message[0]) {
        fprintf(stderr, "error: %s\n", err.message);
    }
    free(ids);
    free(in);
    return rc;
}

/* Each stdin line is hex bytes of one text (which may hold any byte but NUL). */
static int run_hex_lines(const tlm_tokenizer *tok, options o)
{
    size_t len;
    char *in = read_stream(stdin, &len);
    if (!in) return 1;
    o.ids_only = true;
    int rc = 0;
    for (char *line = in; *line && rc == 0;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        size_t n = strlen(line), m = 0;
        for (size_t i = 0; i + 1 < n; i += 2) {
            int hi = hex_value(line[i]), lo = hex_value(line[i + 1]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                fprintf(stderr, "error: bad hex line\n");
                rc = 1;
                break;
            }
            line[m++] = (char)(hi * 16 + lo); /* decoding in place: m <= i */
        }
        line[m] = '\0';
        if (rc == 0) rc = run_text(tok, line, &o);
        if (!nl) break;
        line = nl + 1;
    }
    free(in);
    return rc;
}

static int run_decode(const tlm_tokenizer *tok, const char *list)
{
    tlm_detok *d;
    if (tlm_detok_create(tok, &d) != TLM_OK) return 1;
    /* As after BOS: SentencePiece's decoder drops the dummy space of the first piece. */
    tlm_detok_reset(d, tlm_tokenizer_bos(tok));
    int rc = 0;
    for (const char *p = list; *p && rc == 0;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p) {
            fprintf(stderr, "error: --decode expects ids, bad at '%s'\n", p);
            rc = 1;
            break;
        }
        size_t len;
        const char *s = tlm_detok_push(d, (int32_t)v, &len);
        if (!s) {
            fprintf(stderr, "error: id %ld is not in the vocabulary\n", v);
            rc = 1;
        } else {
            fwrite(s, 1, len, stdout);
        }
        p = end;
        while (*p == ',' || *p == ' ')
            p++;
    }
    size_t len;
    const char *s = tlm_detok_flush(d, &len);
    if (s) fwrite(s, 1, len, stdout);
    putchar('\n');
    tlm_detok_free(d);
    return rc;
}

/* The file repeated (whole UTF-8 characters) to 1 MiB, tokenized three times; best time. */
static int run_bench(const tlm_tokenizer *tok, const char *path, const options *o)
{
    size_t len;
    char *src = read_path(path, &len);
    if (!src || len == 0) {
        free(src);
        return 1;
    }
    size_t total = 1 << 20, n = 0;
    char *text = malloc(total + 1);
    while (text && n < total) {
        size_t take = len < total - n ? len : total - n;
        while (take > 0 && take < len && ((unsigned char)src[take] & 0xC0) == 0x80)
            take--; /* do not cut a character */
        if (take == 0) break;
        memcpy(text + n, src, take);
        n += take;
    }
    if (!text) return 1;
    text[n] = '\0';
    double best = 1e9;
    int32_t count = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now_seconds();
        int32_t *ids = encode(tok, text, o, &count);
        double t = now_seconds() - t0;
        free(ids);
        if (!ids) return 1;
        if (t < best) best = t;
    }
    printf("%s: %zu bytes -> %d tokens in %.3f s (%.1f MB/s)\n", o->path, n, (int)count, best,
           (double)n / best / 1e6);
    free(text);
    free(src);
    return 0;
}

int main(int argc, char **argv)
{
    options o = {.special = -1};
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    tlm_tokenizer *tok = NULL;
    tlm_error err = {0};
    if (tlm_tokenizer_load(o.path, &tok, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return 1;
    }
    int rc = 0;
    if (o.show_template) {
        const char *jinja = tlm_tokenizer_chat_template(tok);
        tlm_chat_template t = TLM_CHAT_UNKNOWN;
        if (!jinja)
            printf("none\n");
        else if (tlm_chat_template_detect(jinja, &t, &err) == TLM_OK)
            printf("%s\n", tlm_chat_template_name(t));
        else
            printf("unknown: %s\n", err.message);
    } else if (o.decode) {
        rc = run_decode(tok, o.decode);
    } else if (o.bench) {
        rc = run_bench(tok, o.bench, &o);
    } else if (o.hex_lines) {
        rc = run_hex_lines(tok, o);
    } else if (o.chat) {
        rc = run_chat(tok, o.chat);
    } else if (o.file || o.text) {
        size_t len;
        char *text = o.file ? read_path(o.file, &len) : NULL;
        if (o.file && !text)
            rc = 1;
        else
            rc = run_text(tok, text ? text : o.text, &o);
        free(text);
    } else {
        fprintf(stderr, "error: no text (give TEXT, -f FILE, --hex-lines, --decode or --bench)\n");
        rc = 2;
    }
    tlm_tokenizer_free(tok);
    return rc;
}
