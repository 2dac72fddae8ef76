/* open.c - what tlm_tokenizer_load does in this layer (tlm_tok_open; lib/model adds the
 * family rules GGUF files leave out): tells which kind of tokenizer file a path is and
 * hands it to its reader. A directory is searched for tokenizer.json, vocab.json +
 * merges.txt, tokenizer.model and qwen.tiktoken, in that order. */
#include "gguf_read.h"
#include "tokenizer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static tlm_status from_gguf_path(const char *path, tlm_tokenizer **out, tlm_error *err)
{
    gguf_file *f = NULL;
    tlm_status st = tlm_gguf_open(path, &f, err);
    if (st == TLM_OK) st = tlm_tokenizer_from_gguf(f, out, err);
    tlm_gguf_close(f); /* the tokenizer keeps its own copies */
    return st;
}

static tlm_status from_dir(const char *dir, tlm_tokenizer **out, tlm_error *err)
{
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/tokenizer.json", dir);
    snprintf(b, sizeof b, "%s/tokenizer.model", dir);
    if (tlm_tok_is_file(a)) {
        tlm_status st = tlm_tokenizer_load_hf_json(a, dir, out, err);
        /* A SentencePiece model's tokenizer.json is not read: its tokenizer.model is. */
        if (st != TLM_ERR_UNSUPPORTED || !tlm_tok_is_file(b)) return st;
        return tlm_tokenizer_load_spmodel(b, dir, out, err);
    }
    snprintf(a, sizeof a, "%s/vocab.json", dir);
    char m[4096];
    snprintf(m, sizeof m, "%s/merges.txt", dir);
    if (tlm_tok_is_file(a) && tlm_tok_is_file(m))
        return tlm_tokenizer_load_vocab_merges(a, m, dir, out, err);
    if (tlm_tok_is_file(b)) return tlm_tokenizer_load_spmodel(b, dir, out, err);
    snprintf(a, sizeof a, "%s/qwen.tiktoken", dir);
    if (tlm_tok_is_file(a)) return tlm_tokenizer_load_tiktoken(a, out, err);
    return tlm_fail(err, TLM_ERR_IO,
                    "%s: no tokenizer.json, vocab.json + merges.txt, "
                    "tokenizer.model or qwen.tiktoken in this directory",
                    dir);
}

tlm_status tlm_tok_open(const char *path, tlm_tokenizer **out, tlm_error *err)
{
    if (out) *out = NULL;
    if (!path || !out)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_tokenizer_load: path and out must not be NULL");
    if (strlen(path) > 3000) /* leaves room for the file names joined to a directory */
        return tlm_fail(err, TLM_ERR_ARG, "tlm_tokenizer_load: path of %zu bytes is too long",
                        strlen(path));
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return from_dir(path, out, err);

    char dir[3008];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof dir, ".");

    unsigned char magic[4] = {0};
    FILE *fp = fopen(path, "rb");
    size_t got = fp ? fread(magic, 1, 4, fp) : 0;
    if (fp) fclose(fp);
    if (!fp) return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) return from_gguf_path(path, out, err);
    if (ends_with(path, "vocab.json")) {
        char m[4096];
        snprintf(m, sizeof m, "%s/merges.txt", dir);
        return tlm_tokenizer_load_vocab_merges(path, m, dir, out, err);
    }
    if (ends_with(path, ".json")) return tlm_tokenizer_load_hf_json(path, dir, out, err);
    if (ends_with(path, ".tiktoken")) return tlm_tokenizer_load_tiktoken(path, out, err);
    /* A SentencePiece ModelProto starts with field 1 (pieces), length-delimited: byte 0x0A. */
    if (ends_with(path, ".model") || (got > 0 && magic[0] == 0x0A && !ends_with(path, ".bin")))
        return tlm_tokenizer_load_spmodel(path, dir, out, err);
    return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                    "%s: not a GGUF file, tokenizer.json, vocab.json, "
                    ".tiktoken or SentencePiece .model (a llama2.c tokenizer.bin needs "
                    "tlm_tokenizer_load_llama2c and the vocabulary size)",
                    path);
}
