/* imatrix.c - reads llama.cpp's importance-matrix .dat file (imatrix.h). The whole file is
 * read into memory first so that every count is checked against the bytes that remain. */
#include "imatrix.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

enum { MAX_NAME = 1024 };

typedef struct entry {
    char *name;
    int64_t n;
    float *w;
} entry;

struct tlm_imatrix {
    int64_t n;
    entry *e;
    unsigned char *buf; /* the file */
};

typedef struct cursor {
    const unsigned char *p;
    uint64_t left, at;
} cursor;

static bool take(cursor *c, void *dst, uint64_t n)
{
    if (n > c->left) return false;
    memcpy(dst, c->p, (size_t)n);
    c->p += n;
    c->left -= n;
    c->at += n;
    return true;
}

static bool take_i32(cursor *c, int32_t *v) { return take(c, v, 4); }

void tlm_imatrix_free(tlm_imatrix *im)
{
    if (!im) return;
    for (int64_t i = 0; i < im->n; i++) {
        free(im->e[i].name);
        free(im->e[i].w);
    }
    free(im->e);
    free(im->buf);
    free(im);
}

static tlm_status read_all(const char *path, unsigned char **buf, uint64_t *size, tlm_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return tlm_fail(err, TLM_ERR_IO, "%s: cannot open the importance matrix", path);
    long end = -1;
    if (fseek(f, 0, SEEK_END) == 0) end = ftell(f);
    if (end < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot read the importance matrix", path);
    }
    *buf = malloc(end > 0 ? (size_t)end : 1);
    if (!*buf) {
        fclose(f);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory for %ld bytes", path, end);
    }
    size_t got = fread(*buf, 1, (size_t)end, f);
    fclose(f);
    if (got != (size_t)end) {
        free(*buf);
        *buf = NULL;
        return tlm_fail(err, TLM_ERR_IO, "%s: read %zu of %ld bytes", path, got, end);
    }
    *size = (uint64_t)end;
    return TLM_OK;
}

tlm_status tlm_imatrix_read(const char *path, tlm_imatrix **out, tlm_error *err)
{
    *out = NULL;
    tlm_imatrix *im = calloc(1, sizeof *im);
    if (!im) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory", path);
    uint64_t size = 0;
    tlm_status st = read_all(path, &im->buf, &size, err);
    if (st != TLM_OK) {
        tlm_imatrix_free(im);
        return st;
    }
    cursor c = {im->buf, size, 0};
    int32_t n_entries = 0;
    /* an entry takes at least 17 bytes: length, a name byte, ncall, nval, one value */
    if (!take_i32(&c, &n_entries) || n_entries < 1 || (uint64_t)n_entries > c.left / 16) {
        st = tlm_fail(err, TLM_ERR_FORMAT,
                      "%s: offset 0: entry count %" PRId32 " is not in 1.."
                      "%" PRIu64 " (the file's size allows no more)",
                      path, n_entries, c.left / 16);
        goto fail;
    }
    im->e = calloc((size_t)n_entries, sizeof *im->e);
    if (!im->e) {
        st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory for %" PRId32 " entries", path,
                      n_entries);
        goto fail;
    }
    for (int32_t i = 0; i < n_entries; i++) {
        entry *e = &im->e[i];
        const uint64_t at = c.at;
        int32_t len = 0, ncall = 0, nval = 0;
        if (!take_i32(&c, &len) || len < 1 || len >= MAX_NAME || (uint64_t)len > c.left) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: entry %" PRId32 " at offset %" PRIu64 ": name length %" PRId32
                          " is not in 1..%d or runs past the end",
                          path, i, at, len, MAX_NAME - 1);
            goto fail;
        }
        e->name = malloc((size_t)len + 1);
        if (!e->name || !take(&c, e->name, (uint64_t)len)) {
            st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory", path);
            goto fail;
        }
        e->name[len] = '\0';
        im->n = i + 1;
        if (!take_i32(&c, &ncall) || !take_i32(&c, &nval) || ncall < 0 || nval < 1 ||
            (uint64_t)nval > c.left / 4) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: entry '%s' at offset %" PRIu64 ": ncall %" PRId32 " / nval %" PRId32
                          " missing, negative or past the end",
                          path, e->name, at, ncall, nval);
            goto fail;
        }
        e->n = nval;
        float *w =
            malloc((size_t)nval * sizeof *w); /* copied: the file's floats may be unaligned */
        if (!w) {
            st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory", path);
            goto fail;
        }
        take(&c, w, (uint64_t)nval * 4);
        for (int32_t k = 0; k < nval && ncall > 0; k++)
            w[k] /= (float)ncall;
        for (int32_t k = 0; k < nval; k++)
            if (!(w[k] >= 0.0f) || w[k] > 3.0e38f) { /* NaN, negative or infinite */
                free(w);
                st = tlm_fail(err, TLM_ERR_FORMAT,
                              "%s: entry '%s': value %" PRId32 " is not a "
                              "finite non-negative number",
                              path, e->name, k);
                goto fail;
            }
        e->w = w;
    }
    /* what follows (last_call, the dataset's name) is informational */
    free(im->buf);
    im->buf = NULL;
    *out = im;
    return TLM_OK;
fail:
    tlm_imatrix_free(im);
    return st;
}

const float *tlm_imatrix_find(const tlm_imatrix *im, const char *name, int64_t *n_found)
{
    for (int64_t i = 0; im && i < im->n; i++)
        if (strcmp(im->e[i].name, name) == 0) {
            *n_found = im->e[i].n;
            return im->e[i].w;
        }
    *n_found = 0;
    return NULL;
}

int64_t tlm_imatrix_count(const tlm_imatrix *im) { return im ? im->n : 0; }
