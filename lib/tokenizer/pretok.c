/* pretok.c - the pre-tokenizer of byte-level BPE: a regex cuts text into pieces
 * (words with their leading space, digit runs, punctuation, whitespace), and BPE then runs on
 * each piece alone. PCRE2 with UTF and UCP gives the Unicode classes \p{L} and \p{N}.
 *
 * One difference is corrected here: with UCP, PCRE2's \s also matches U+180E, which Unicode
 * no longer counts as White_Space, while the Rust and Oniguruma engines behind the reference
 * tokenizers use exactly White_Space. So \s and \S are rewritten to that explicit set before
 * compiling. The same wrapper answers added.c's "is this character \w" (single_word). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

struct tlm_pretok {
    pcre2_code *code;
};

/* The reference patterns, as the tokenizers' own files give them. */
#define GPT2_PATTERN                                                                               \
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"
#define QWEN2_PATTERN                                                                              \
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "                          \
    "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"                                                               \
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* tokenizer.ggml.pre names (as llama.cpp's converter writes them) and what each stands for:
 * the regex, and whether the tokenizer normalises text to NFC first. */
static const struct {
    const char *name, *pattern;
    bool nfc;
} known[] = {
    {"gpt-2", GPT2_PATTERN, false},      /* GPT-2 and its ByteLevel pre-tokenizer */
    {"phi-2", GPT2_PATTERN, false},      /* Phi-2's tokenizer.json is GPT-2's ByteLevel */
    {"qwen2", QWEN2_PATTERN, true},      /* Qwen2 / Qwen1.5 tokenizer.json (NFC normaliser),
                                          * Qwen v1 PAT_STR (tokenization_qwen.py NFCs too) */
    {"stablelm2", QWEN2_PATTERN, false}, /* arcade100k: cl100k with single digits */
    {"stablelm", QWEN2_PATTERN, false},  /* the same vocabulary under an older GGUF name */
};

const char *tlm_pretok_pattern(const char *name, bool *nfc)
{
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(known[i].name, name) == 0) {
            if (nfc) *nfc = known[i].nfc;
            return known[i].pattern;
        }
    return NULL;
}

/* Unicode White_Space, as members of a character class. */
#define WHITE_SPACE                                                                                \
    "\\t-\\r\\x{20}\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}" \
    "\\x{3000}"

/* Rewrites \s and \S; false for \S inside a class (no reference pattern has one). */
static bool rewrite(const char *in, char *out)
{
    bool in_class = false;
    size_t n = 0;
    for (size_t i = 0; in[i]; i++) {
        char c = in[i];
        if (c == '\\' && in[i + 1]) {
            char d = in[++i];
            const char *rep = NULL;
            if (d == 's') rep = in_class ? WHITE_SPACE : "[" WHITE_SPACE "]";
            if (d == 'S') {
                if (in_class) return false;
                rep = "[^" WHITE_SPACE "]";
            }
            if (rep) {
                memcpy(out + n, rep, strlen(rep));
                n += strlen(rep);
            } else {
                out[n++] = '\\';
                out[n++] = d;
            }
            continue;
        }
        out[n++] = c;
        if (!in_class && c == '[') {
            in_class = true;
            if (in[i + 1] == '^') out[n++] = in[++i];
            if (in[i + 1] == ']') out[n++] = in[++i]; /* a leading ] is a member */
        } else if (in_class && c == ']') {
            in_class = false;
        }
    }
    out[n] = '\0';
    return true;
}

tlm_status tlm_pretok_compile(const char *pattern, struct tlm_pretok **out, const char *src,
                              tlm_error *err)
{
    *out = NULL;
    size_t len = strlen(pattern);
    if (len > 4096)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: pre-tokenizer regex of %zu bytes is too long", src, len);
    char *rw = malloc(len * (sizeof "[^" WHITE_SPACE "]") + 1);
    struct tlm_pretok *p = calloc(1, sizeof *p);
    tlm_status st = TLM_OK;
    if (!rw || !p) {
        st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for the pre-tokenizer", src);
        goto done;
    }
    if (!rewrite(pattern, rw)) {
        st = tlm_fail(err, TLM_ERR_UNSUPPORTED,
                      "%s: pre-tokenizer regex uses \\S inside a character class: %.60s", src,
                      pattern);
        goto done;
    }
    int code;
    PCRE2_SIZE at;
    p->code = pcre2_compile((PCRE2_SPTR)rw, PCRE2_ZERO_TERMINATED,
                            PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &code, &at, NULL);
    if (!p->code) {
        PCRE2_UCHAR msg[120];
        pcre2_get_error_message(code, msg, sizeof msg);
        st = tlm_fail(err, TLM_ERR_UNSUPPORTED,
                      "%s: pre-tokenizer regex does not compile (%s at offset %zu): %.60s", src,
                      (const char *)msg, (size_t)at, pattern);
        goto done;
    }
    pcre2_jit_compile(p->code, PCRE2_JIT_COMPLETE); /* without JIT the interpreter runs */
done:
    free(rw);
    if (st != TLM_OK) {
        tlm_pretok_free(p);
        return st;
    }
    *out = p;
    return TLM_OK;
}

void tlm_pretok_free(struct tlm_pretok *p)
{
    if (!p) return;
    pcre2_code_free(p->code);
    free(p);
}

bool tlm_pretok_matches_all(const struct tlm_pretok *p, const char *s, uint64_t len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->code, NULL);
    if (!md) return false;
    int rc =
        pcre2_match(p->code, (PCRE2_SPTR)s, len, 0, PCRE2_ANCHORED | PCRE2_ENDANCHORED, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* End of the UTF-8 character (or lone byte) at s[i]. */
static uint64_t next_char(const char *s, uint64_t len, uint64_t i)
{
    i++;
    while (i < len && ((unsigned char)s[i] & 0xC0) == 0x80)
        i++;
    return i;
}

tlm_status tlm_pretok_split(const struct tlm_pretok *p, const char *s, uint64_t len,
                            bool (*fn)(void *ctx, uint64_t start, uint64_t end), void *ctx)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(p->code, NULL);
    if (!md) return TLM_ERR_NO_MEMORY;
    tlm_status st = TLM_OK;
    uint64_t at = 0;
    uint32_t opts = 0;
    while (at < len) {
        int rc = pcre2_match(p->code, (PCRE2_SPTR)s, len, at, opts, md, NULL);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && opts == 0) {
            opts =
                PCRE2_NO_JIT; /* a pathological run: the interpreter keeps its frames on the heap */
            continue;
        }
        if (rc == PCRE2_ERROR_NOMATCH) {
            fn(ctx, at, len); /* nothing matches what is left (invalid UTF-8 only) */
            break;
        }
        if (rc < 0) {
            st = rc == PCRE2_ERROR_NOMEMORY ? TLM_ERR_NO_MEMORY : TLM_ERR_FORMAT;
            break;
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        uint64_t start = ov[0], end = ov[1];
        if (start > at && !fn(ctx, at, start)) break;     /* bytes no alternative takes */
        if (end == start) end = next_char(s, len, start); /* an empty match takes one character */
        if (!fn(ctx, start, end)) break;
        at = end;
    }
    pcre2_match_data_free(md);
    return st;
}
