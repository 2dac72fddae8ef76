/* imatrix_out.c - importance matrix collection and its .dat file (imatrix_out.h). The file:
 *   int32 n_entries; per entry: int32 name length, the name, int32 ncall, int32 nval,
 *   float32 values[nval]; then int32 chunks, int32 text name length, the text name.
 * All little-endian (the tools refuse other hosts where it matters). */
#include "imatrix_out.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    char *name;
    int64_t n_in, n_tok;  /* every column sees every token: one count for all */
    int32_t ncall, chunk; /* chunk: the last chunk that counted a call */
    double *sum;          /* [n_in] sum of x^2 */
} entry;

struct imatrix_out {
    entry *e;
    int64_t n, cap;
    int32_t chunk;
    bool with_output, failed;
    char why[256];
};

imatrix_out *imatrix_out_new(bool with_output)
{
    imatrix_out *im = calloc(1, sizeof *im);
    if (!im) return NULL;
    im->with_output = with_output;
    im->chunk = -1; /* imatrix_out_next_chunk starts chunk 0 */
    return im;
}

void imatrix_out_free(imatrix_out *im)
{
    if (!im) return;
    for (int64_t i = 0; i < im->n; i++) {
        free(im->e[i].name);
        free(im->e[i].sum);
    }
    free(im->e);
    free(im);
}

static entry *find_or_add(imatrix_out *im, const char *name, int64_t n_in)
{
    for (int64_t i = 0; i < im->n; i++) /* a few hundred names: a scan is fine */
        if (!strcmp(im->e[i].name, name)) return &im->e[i];
    if (im->n == im->cap) {
        int64_t cap = im->cap ? 2 * im->cap : 64;
        entry *e = realloc(im->e, (size_t)cap * sizeof *e);
        if (!e) return NULL;
        im->e = e;
        im->cap = cap;
    }
    entry *e = &im->e[im->n];
    *e = (entry){.name = strdup(name),
                 .n_in = n_in,
                 .chunk = INT32_MIN,
                 .sum = calloc((size_t)n_in, sizeof(double))};
    if (!e->name || !e->sum) {
        free(e->name);
        free(e->sum);
        return NULL;
    }
    im->n++;
    return e;
}

static void observe(void *user, const char *weight, const float *x, int64_t ldx, int64_t n_tok,
                    int64_t n_in)
{
    imatrix_out *im = user;
    if (im->failed) return;
    if (strncmp(weight, "blk.", 4) != 0 && !(im->with_output && !strcmp(weight, "output.weight")))
        return;
    entry *e = find_or_add(im, weight, n_in);
    if (!e) {
        im->failed = true;
        snprintf(im->why, sizeof im->why, "out of memory collecting %s", weight);
        return;
    }
    if (e->n_in != n_in) { /* cannot happen with one model; checked rather than trusted */
        im->failed = true;
        snprintf(im->why, sizeof im->why, "%s: input width changed from %lld to %lld", weight,
                 (long long)e->n_in, (long long)n_in);
        return;
    }
    for (int64_t t = 0; t < n_tok; t++) {
        const float *r = x + t * ldx;
        for (int64_t j = 0; j < n_in; j++)
            e->sum[j] += (double)r[j] * (double)r[j];
    }
    e->n_tok += n_tok;
    if (e->chunk != im->chunk) { /* the first call of this matrix in the chunk */
        e->chunk = im->chunk;
        e->ncall++;
    }
}

void imatrix_out_attach(imatrix_out *im, tlm_context *ctx)
{
    tlm_context_set_matmul_observer(ctx, observe, im);
}

void imatrix_out_next_chunk(imatrix_out *im) { im->chunk++; }

static bool put_i32(FILE *f, int64_t v)
{
    int32_t x = (int32_t)v;
    return fwrite(&x, 4, 1, f) == 1;
}

bool imatrix_out_write(const imatrix_out *im, const char *path, const char *dataset)
{
    if (im->failed) {
        fprintf(stderr, "error: importance matrix: %s\n", im->why);
        return false;
    }
    if (im->n == 0) {
        fprintf(stderr, "error: importance matrix: no matrix input was seen\n");
        return false;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "error: cannot create %s\n", path);
        return false;
    }
    bool ok = put_i32(f, im->n);
    float *v = NULL;
    for (int64_t i = 0; ok && i < im->n; i++) {
        const entry *e = &im->e[i];
        size_t len = strlen(e->name);
        float *nv = realloc(v, (size_t)e->n_in * sizeof *v);
        if (!nv) {
            ok = false;
            break;
        }
        v = nv;
        for (int64_t j = 0; j < e->n_in; j++) { /* mean(x^2) * ncall, as the layout has it */
            double mean = e->n_tok ? e->sum[j] / (double)e->n_tok : 0.0;
            v[j] = (float)(mean * e->ncall);
            if (!isfinite(v[j])) {
                fprintf(stderr, "error: %s: column %lld of %s is not finite\n", path, (long long)j,
                        e->name);
                ok = false;
                break;
            }
        }
        ok = ok && put_i32(f, (int64_t)len) && fwrite(e->name, 1, len, f) == len &&
             put_i32(f, e->ncall) && put_i32(f, e->n_in) &&
             fwrite(v, sizeof *v, (size_t)e->n_in, f) == (size_t)e->n_in;
    }
    free(v);
    size_t dl = strlen(dataset);
    ok = ok && put_i32(f, im->chunk + 1) && put_i32(f, (int64_t)dl) &&
         fwrite(dataset, 1, dl, f) == dl;
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        fprintf(stderr, "error: cannot write %s\n", path);
        remove(path);
    }
    return ok;
}
