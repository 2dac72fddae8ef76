/* tiktoken.c - a tiktoken rank file (Qwen v1's qwen.tiktoken): one line per piece,
 * "<base64 of the bytes> <rank>". The rank is both the id and the merge priority: BPE merges
 * the adjacent pair whose concatenation has the lowest rank, and a pre-token that is itself a
 * piece is taken whole (tiktoken's shortcut).
 *
 * The file holds neither the special tokens nor the pre-tokenizer regex; they live in the
 * model's code. libtinylm knows them for Qwen v1 only (tokenization_qwen.py: 151643 ranks, then
 * <|endoftext|>, <|im_start|>, <|im_end|>, <|extra_0|> .. <|extra_204|>; PAT_STR equal to
 * Qwen2's regex; NFC normalisation). Other rank files are refused. */
#include "tokenizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    MAX_FILE_BYTES = 64 << 20,
    QWEN_RANKS = 151643,
    QWEN_EXTRAS = 205,
};

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

/* Decodes standard base64 (with '=' padding) into out; returns the byte count or -1. */
static int64_t b64_decode(const char *s, uint64_t len, char *out)
{
    if (len % 4 != 0) return -1;
    int64_t n = 0;
    for (uint64_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)s[i + (uint64_t)k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
            } else if (pad > 0 || (v[k] = b64_value(c)) < 0) {
                return -1;
            }
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        out[n++] = (char)(w >> 16);
        if (pad < 2) out[n++] = (char)(w >> 8);
        if (pad < 1) out[n++] = (char)w;
    }
    return n;
}

typedef struct line {
    uint64_t off, len; /* the base64 field */
    int64_t rank;
} line;

/* Splits the file into lines "b64 rank"; fills lines (n_lines) and the largest rank. */
static tlm_status parse_lines(const char *path, const char *buf, uint64_t len, line **out,
                              int64_t *n_out, tlm_error *err)
{
    int64_t cap = 1;
    for (uint64_t i = 0; i < len; i++)
        cap += buf[i] == '\n';
    line *l = malloc((size_t)cap * sizeof *l);
    if (!l)
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRId64 " lines", path, cap);
    int64_t n = 0;
    for (uint64_t at = 0; at < len;) {
        const char *nl = memchr(buf + at, '\n', len - at);
        uint64_t end = nl ? (uint64_t)(nl - buf) : len, e = end;
        if (e > at && buf[e - 1] == '\r') e--;
        if (e > at) { /* empty lines are skipped */
            const char *sp = memchr(buf + at, ' ', e - at);
            char *stop = NULL;
            long long r = -1;
            if (sp && sp + 1 < buf + e) r = strtoll(sp + 1, &stop, 10);
            if (!sp || r < 0 || r >= TLM_TOK_MAX_VOCAB || stop != buf + e) {
                free(l);
                return tlm_fail(err, TLM_ERR_FORMAT,
                                "%s: line %" PRId64 " at offset %" PRIu64
                                " is not \"<base64> <rank>\" with a rank below %d",
                                path, n + 1, at, (int)TLM_TOK_MAX_VOCAB);
            }
            l[n++] = (line){at, (uint64_t)(sp - (buf + at)), r};
        }
        at = end + 1;
    }
    *out = l;
    *n_out = n;
    return TLM_OK;
}

/* The Qwen v1 special tokens, appended after the ranks. */
static uint64_t qwen_special(int32_t k, char *out)
{
    static const char *const first[3] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    char buf[32];
    if (k < 3)
        snprintf(buf, sizeof buf, "%s", first[k]);
    else
        snprintf(buf, sizeof buf, "<|extra_%d|>", (int)(k - 3));
    size_t n = strlen(buf);
    if (out) memcpy(out, buf, n);
    return n;
}

tlm_status tlm_tokenizer_load_tiktoken(const char *path, tlm_tokenizer **out, tlm_error *err)
{
    *out = NULL;
    char *buf = NULL;
    uint64_t len;
    line *lines = NULL;
    int64_t n = 0;
    tlm_tokenizer *tok = NULL;
    tlm_status st = tlm_tok_read_file(path, MAX_FILE_BYTES, &buf, &len, err);
    if (st == TLM_OK) st = parse_lines(path, buf, len, &lines, &n, err);
    if (st == TLM_OK && n != QWEN_RANKS)
        st = tlm_fail(err, TLM_ERR_UNSUPPORTED,
                      "%s: %" PRId64 " ranks: only Qwen v1's rank file "
                      "(%d ranks) is known; other tiktoken files need their special tokens and "
                      "regex",
                      path, n, QWEN_RANKS);
    if (st == TLM_OK && !(tok = tlm_tok_alloc(QWEN_RANKS + 3 + QWEN_EXTRAS)))
        st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for the vocabulary", path);
    if (st == TLM_OK) tok->special_by_default = true; /* as tiktoken's allowed_special="all" */
    if (st == TLM_OK) { /* decoded pieces are shorter than their base64: len bounds the text */
        tok->text = malloc(len + 32 * (3 + QWEN_EXTRAS));
        if (!tok->text) st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for pieces", path);
    }
    for (int64_t i = 0; st == TLM_OK && i < n; i++) { /* ranks must be 0 .. n-1, in order */
        if (lines[i].rank != i) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: line %" PRId64 " has rank %" PRId64 ", expected %" PRId64
                          " (ranks in order, each once)",
                          path, i + 1, lines[i].rank, i);
            break;
        }
        int64_t m = b64_decode(buf + lines[i].off, lines[i].len, tok->text + tok->text_off[i]);
        if (m <= 0) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: line %" PRId64 " at offset %" PRIu64 ": bad base64", path, i + 1,
                          lines[i].off);
            break;
        }
        tok->text_off[i + 1] = tok->text_off[i] + (uint32_t)m;
        tok->types[i] = TLM_TOK_NORMAL;
        tok->scores[i] = 0;
    }
    for (int32_t k = 0; st == TLM_OK && k < 3 + QWEN_EXTRAS; k++) {
        int32_t id = QWEN_RANKS + k;
        tok->text_off[id + 1] =
            tok->text_off[id] + (uint32_t)qwen_special(k, tok->text + tok->text_off[id]);
        tok->types[id] = TLM_TOK_CONTROL;
        tok->scores[id] = 0;
    }
    if (st == TLM_OK) {
        tok->kind = TLM_TOK_BPE;
        tok->eos = QWEN_RANKS; /* <|endoftext|>; the chat template stops on <|im_end|> too */
        tok->ignore_merges = true;
        tok->nfc = true;
        st = tlm_pretok_compile(tlm_pretok_pattern("qwen2", NULL), &tok->pretok, path, err);
    }
    if (st == TLM_OK) st = tlm_tokenizer_finish(tok, path, err);
    if (st == TLM_OK) st = tlm_bpe_merges_from_ranks(tok, path, err);
    free(lines);
    free(buf);
    if (st != TLM_OK) {
        tlm_tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return TLM_OK;
}
