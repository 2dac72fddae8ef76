/* file.c - reading the small files a tokenizer is made of (tokenizer.json, merges.txt,
 * tokenizer.model, tokenizer_config.json, ...): whole, with a size cap, NUL-terminated. Every
 * reader uses it, and it calls none of them. */
#include "tokenizer.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

tlm_status tlm_tok_read_file(const char *path, uint64_t cap, char **out, uint64_t *len,
                             tlm_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(fp), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(fp);
        return tlm_fail(err, TLM_ERR_IO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)sb.st_size;
    if (size > cap) {
        fclose(fp);
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: %" PRIu64 " bytes is over the cap of %" PRIu64
                        " for this kind of file",
                        path, size, cap);
    }
    char *buf = malloc(size + 1);
    if (!buf) {
        fclose(fp);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " bytes", path, size);
    }
    size_t got = size ? fread(buf, 1, size, fp) : 0;
    fclose(fp);
    if (got != size) {
        free(buf);
        return tlm_fail(err, TLM_ERR_IO, "%s: read %zu of %" PRIu64 " bytes", path, got, size);
    }
    buf[size] = '\0';
    *out = buf;
    *len = size;
    return TLM_OK;
}

bool tlm_tok_is_file(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}
