/* gguf_write.c - GGUF v3 writer (format as lib/gguf_read.c reads it): header, key-values,
 * tensor infos, then tensor data, each tensor starting at a multiple of the alignment
 * (counted from the start of the data section, which is itself aligned).
 *
 * All numbers are written little-endian byte by byte, whatever the host. Sizes go through
 * the checked helpers of checked.h. */
#include "gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "checked.h"
#include "ds.h"

#define GGUF_VERSION 3u
#define GGUF_DEFAULT_ALIGNMENT 32u
#define GGUF_MAX_KEY 65535u
#define FILE_BUFFER (4u << 20)

typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes;

typedef struct tensor_rec {
    char name[GGUF_WRITE_MAX_NAME + 1];
    uint64_t nbytes; /* data bytes, without padding */
} tensor_rec;

struct gguf_writer {
    char *path, *tmp_path;
    FILE *fp;
    char *io_buf;
    tlm_error *err;
    tlm_status st; /* first failure; sticky */

    bytes kv, info; /* serialized key-values and tensor infos */
    int64_t n_kv;
    struct {
        char *key;
        int value;
    } * keys; /* stb_ds string hash: duplicate keys */
    struct {
        char *key;
        int value;
    } * names;
    tensor_rec *tensors;           /* stb_ds array */
    uint64_t alignment, data_size; /* data_size: next tensor's offset */

    bool in_data;
    int64_t cur;       /* tensor being written */
    uint64_t cur_done; /* its bytes written so far */
    uint64_t file_pos; /* bytes written to the file */
};

/* ---- small helpers ---------------------------------------------------------------------- */

static tlm_status fail(gguf_writer *w, tlm_status st, const char *fmt, ...) TLM_PRINTF(3, 4);
static tlm_status fail(gguf_writer *w, tlm_status st, const char *fmt, ...)
{
    if (w->st != TLM_OK) return w->st;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    w->st = tlm_fail(w->err, st, "%s: %s", w->path, msg);
    return w->st;
}

static bool put(bytes *b, const void *src, size_t n)
{
    if (n > SIZE_MAX - b->n) return false;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) {
            if (cap > SIZE_MAX / 2) return false;
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) return false;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
    return true;
}

static bool put_le(bytes *b, uint64_t v, int n)
{
    uint8_t t[8];
    for (int i = 0; i < n; i++)
        t[i] = (uint8_t)(v >> (8 * i));
    return put(b, t, (size_t)n);
}

static bool put_str(bytes *b, const char *s, uint64_t len)
{
    return put_le(b, len, 8) && put(b, s, (size_t)len);
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

/* Starts a key-value: checks state and the key, writes the key and the value type. */
static bool begin_kv(gguf_writer *w, const char *key, gguf_vtype type)
{
    if (w->st != TLM_OK) return false;
    if (w->in_data) {
        fail(w, TLM_ERR_ARG, "key '%s' set after the tensor data began", key ? key : "(null)");
        return false;
    }
    size_t len = key ? strlen(key) : 0;
    if (len == 0 || len > GGUF_MAX_KEY) {
        fail(w, TLM_ERR_ARG, "key '%.64s' must have 1 to %u bytes", key ? key : "(null)",
             GGUF_MAX_KEY);
        return false;
    }
    if (shgeti(w->keys, key) >= 0) {
        fail(w, TLM_ERR_ARG, "duplicate key '%s'", key);
        return false;
    }
    shput(w->keys, key, 1);
    if (!put_str(&w->kv, key, len) || !put_le(&w->kv, (uint64_t)type, 4)) {
        fail(w, TLM_ERR_NO_MEMORY, "out of memory for key '%s'", key);
        return false;
    }
    w->n_kv++;
    return true;
}

static tlm_status end_kv(gguf_writer *w, const char *key, bool ok)
{
    if (!ok) return fail(w, TLM_ERR_NO_MEMORY, "out of memory for key '%s'", key);
    return TLM_OK;
}

/* ---- opening ---------------------------------------------------------------------------- */

static void free_writer(gguf_writer *w)
{
    free(w->path);
    free(w->tmp_path);
    free(w->io_buf);
    free(w->kv.p);
    free(w->info.p);
    shfree(w->keys);
    shfree(w->names);
    arrfree(w->tensors);
    free(w);
}

tlm_status tlm_gguf_writer_open(const char *path, gguf_writer **out, tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_gguf_writer_open: out is NULL");
    *out = NULL;
    if (!path || !*path) return tlm_fail(err, TLM_ERR_ARG, "tlm_gguf_writer_open: no path");
    gguf_writer *w = calloc(1, sizeof *w);
    size_t len = strlen(path);
    if (w) {
        w->path = malloc(len + 1);
        w->tmp_path = malloc(len + 32);
        w->io_buf = malloc(FILE_BUFFER);
    }
    if (!w || !w->path || !w->tmp_path || !w->io_buf) {
        if (w) free_writer(w);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory", path);
    }
    memcpy(w->path, path, len + 1);
    snprintf(w->tmp_path, len + 32, "%s.tmp%ld", path, (long)getpid());
    w->err = err;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    sh_new_strdup(w->keys);
    sh_new_strdup(w->names);
    w->fp = fopen(w->tmp_path, "wb");
    if (!w->fp) {
        tlm_status st = tlm_fail(err, TLM_ERR_IO, "%s: cannot create %s: %s", path, w->tmp_path,
                                 strerror(errno));
        free_writer(w);
        return st;
    }
    setvbuf(w->fp, w->io_buf, _IOFBF, FILE_BUFFER);
    *out = w;
    return TLM_OK;
}

/* ---- metadata --------------------------------------------------------------------------- */

tlm_status tlm_gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v)
{
    if (key && strcmp(key, "general.alignment") == 0 && w->st == TLM_OK) {
        if (v == 0 || (v & (v - 1)) != 0)
            return fail(w, TLM_ERR_ARG, "general.alignment %" PRIu32 " is not a power of two", v);
        if (arrlen(w->tensors) > 0)
            return fail(w, TLM_ERR_ARG, "general.alignment set after tensors were added");
    }
    if (!begin_kv(w, key, GGUF_U32)) return w->st;
    if (strcmp(key, "general.alignment") == 0) w->alignment = v;
    return end_kv(w, key, put_le(&w->kv, v, 4));
}

tlm_status tlm_gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v)
{
    if (!begin_kv(w, key, GGUF_I32)) return w->st;
    return end_kv(w, key, put_le(&w->kv, (uint32_t)v, 4));
}

tlm_status tlm_gguf_writer_set_f32(gguf_writer *w, const char *key, float v)
{
    if (!begin_kv(w, key, GGUF_F32)) return w->st;
    return end_kv(w, key, put_le(&w->kv, f32_bits(v), 4));
}

tlm_status tlm_gguf_writer_set_bool(gguf_writer *w, const char *key, bool v)
{
    if (!begin_kv(w, key, GGUF_BOOL)) return w->st;
    return end_kv(w, key, put_le(&w->kv, v ? 1 : 0, 1));
}

tlm_status tlm_gguf_writer_set_str(gguf_writer *w, const char *key, const char *v)
{
    if (!v) return fail(w, TLM_ERR_ARG, "key '%s': NULL string", key ? key : "(null)");
    if (!begin_kv(w, key, GGUF_STRING)) return w->st;
    return end_kv(w, key, put_str(&w->kv, v, strlen(v)));
}

/* Array header: element type and count. */
static bool begin_arr(gguf_writer *w, const char *key, gguf_vtype et, uint64_t n)
{
    if (!begin_kv(w, key, GGUF_ARRAY)) return false;
    if (!put_le(&w->kv, (uint64_t)et, 4) || !put_le(&w->kv, n, 8)) {
        fail(w, TLM_ERR_NO_MEMORY, "out of memory for key '%s'", key);
        return false;
    }
    return true;
}

tlm_status tlm_gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v,
                                       uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (!v[i]) return fail(w, TLM_ERR_ARG, "key '%s': string %" PRIu64 " is NULL", key, i);
    if (!begin_arr(w, key, GGUF_STRING, n)) return w->st;
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; i++)
        ok = put_str(&w->kv, v[i], strlen(v[i]));
    return end_kv(w, key, ok);
}

tlm_status tlm_gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n)
{
    if (!begin_arr(w, key, GGUF_F32, n)) return w->st;
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; i++)
        ok = put_le(&w->kv, f32_bits(v[i]), 4);
    return end_kv(w, key, ok);
}

tlm_status tlm_gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v,
                                       uint64_t n)
{
    if (!begin_arr(w, key, GGUF_I32, n)) return w->st;
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; i++)
        ok = put_le(&w->kv, (uint32_t)v[i], 4);
    return end_kv(w, key, ok);
}

tlm_status tlm_gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv)
{
    if (!kv) return fail(w, TLM_ERR_ARG, "tlm_gguf_writer_copy_kv: NULL key-value");
    if (kv->type == GGUF_U32 && strcmp(kv->key, "general.alignment") == 0)
        return tlm_gguf_writer_set_u32(w, kv->key, (uint32_t)kv->v.u);
    if (!begin_kv(w, kv->key, kv->type)) return w->st;
    bool ok;
    switch (kv->type) {
    case GGUF_STRING:
        ok = put_str(&w->kv, kv->v.str.ptr, kv->v.str.len);
        break;
    case GGUF_ARRAY: {
        /* the elements are copied as they lie in the source map: a fixed-size run, or for
         * strings everything up to the end of the last one */
        uint64_t n = kv->v.arr.n, len = 0;
        if (kv->v.arr.type == GGUF_STRING) {
            if (n > 0) {
                uint64_t last;
                tlm_gguf_arr_str(kv, n - 1, &last);
                len = kv->v.arr.str_offsets[n - 1] + 8 + last;
            }
        } else {
            len = n * tlm_gguf_value_size(kv->v.arr.type); /* the reader checked it fits the file */
        }
        ok = put_le(&w->kv, (uint64_t)kv->v.arr.type, 4) && put_le(&w->kv, n, 8) &&
             put(&w->kv, kv->v.arr.data, (size_t)len);
        break;
    }
    case GGUF_F32:
        ok = put_le(&w->kv, f32_bits((float)kv->v.f), 4);
        break;
    case GGUF_F64: {
        uint64_t u;
        memcpy(&u, &kv->v.f, sizeof u);
        ok = put_le(&w->kv, u, 8);
        break;
    }
    case GGUF_I8:
    case GGUF_I16:
    case GGUF_I32:
    case GGUF_I64:
        ok = put_le(&w->kv, (uint64_t)kv->v.i, (int)tlm_gguf_value_size(kv->type));
        break;
    default: /* U8..U64, BOOL */
        ok = put_le(&w->kv, kv->v.u, (int)tlm_gguf_value_size(kv->type));
        break;
    }
    return end_kv(w, kv->key, ok);
}

/* ---- tensors ---------------------------------------------------------------------------- */

tlm_status tlm_gguf_writer_add_tensor(gguf_writer *w, const char *name, tlm_type type, int n_dims,
                                      const int64_t *ne)
{
    if (w->st != TLM_OK) return w->st;
    if (w->in_data) return fail(w, TLM_ERR_ARG, "tensor '%s' added after the data began", name);
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > GGUF_WRITE_MAX_NAME)
        return fail(w, TLM_ERR_ARG, "tensor name '%.80s' must have 1 to %d bytes",
                    name ? name : "(null)", GGUF_WRITE_MAX_NAME);
    if (shgeti(w->names, name) >= 0) return fail(w, TLM_ERR_ARG, "duplicate tensor '%s'", name);
    const tlm_type_traits *tr = tlm_type_get((uint32_t)type);
    if (!tr) return fail(w, TLM_ERR_ARG, "tensor '%s': unknown type %d", name, (int)type);
    if (n_dims < 1 || n_dims > TLM_MAX_DIMS || !ne)
        return fail(w, TLM_ERR_ARG, "tensor '%s': %d dimensions (1 to %d)", name, n_dims,
                    TLM_MAX_DIMS);
    uint64_t nbytes = 0, nelem = 1;
    for (int d = 0; d < n_dims; d++)
        if (ne[d] < 1 || !tlm_mul_u64(nelem, (uint64_t)ne[d], &nelem) || nelem > INT64_MAX)
            return fail(w, TLM_ERR_ARG, "tensor '%s': ne[%d] = %" PRId64 " is not in 1..2^63", name,
                        d, ne[d]);
    if (!tlm_type_row_bytes(type, ne[0], &nbytes))
        return fail(w, TLM_ERR_ARG, "tensor '%s': row of %" PRId64 " is not whole %s blocks of %d",
                    name, ne[0], tr->name, tr->block_elems);
    for (int d = 1; d < n_dims; d++)
        if (!tlm_mul_u64(nbytes, (uint64_t)ne[d], &nbytes))
            return fail(w, TLM_ERR_ARG, "tensor '%s': byte size overflows", name);
    uint64_t end;
    if (!tlm_add_u64(w->data_size, nbytes, &end) || end > UINT64_MAX - w->alignment)
        return fail(w, TLM_ERR_ARG, "tensor '%s': data size overflows", name);

    bool ok = put_str(&w->info, name, len) && put_le(&w->info, (uint64_t)n_dims, 4);
    for (int d = 0; d < n_dims && ok; d++)
        ok = put_le(&w->info, (uint64_t)ne[d], 8);
    ok = ok && put_le(&w->info, (uint64_t)type, 4) && put_le(&w->info, w->data_size, 8);
    tensor_rec rec = {.nbytes = nbytes};
    memcpy(rec.name, name, len + 1);
    if (!ok) return fail(w, TLM_ERR_NO_MEMORY, "out of memory for tensor '%s'", name);
    arrput(w->tensors, rec);
    shput(w->names, name, 1);
    w->data_size = align_up(end, w->alignment);
    return TLM_OK;
}

uint64_t tlm_gguf_writer_tensor_bytes(const gguf_writer *w, int64_t i)
{
    return i >= 0 && i < arrlen(w->tensors) ? w->tensors[i].nbytes : 0;
}

/* ---- data ------------------------------------------------------------------------------- */

static tlm_status file_write(gguf_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->fp) != n)
        return fail(w, TLM_ERR_IO, "write failed at byte %" PRIu64 ": %s", w->file_pos,
                    strerror(errno));
    w->file_pos += n;
    return TLM_OK;
}

static tlm_status write_padding(gguf_writer *w)
{
    static const uint8_t zeros[256];
    uint64_t pad = align_up(w->file_pos, w->alignment) - w->file_pos;
    while (pad > 0 && w->st == TLM_OK) {
        size_t n = pad < sizeof zeros ? (size_t)pad : sizeof zeros;
        file_write(w, zeros, n);
        pad -= n;
    }
    return w->st;
}

tlm_status tlm_gguf_writer_begin_data(gguf_writer *w)
{
    if (w->st != TLM_OK) return w->st;
    if (w->in_data) return fail(w, TLM_ERR_ARG, "tlm_gguf_writer_begin_data called twice");
    bytes head = {0};
    bool ok = put(&head, "GGUF", 4) && put_le(&head, GGUF_VERSION, 4) &&
              put_le(&head, (uint64_t)arrlen(w->tensors), 8) && put_le(&head, (uint64_t)w->n_kv, 8);
    if (!ok) {
        free(head.p);
        return fail(w, TLM_ERR_NO_MEMORY, "out of memory for the header");
    }
    file_write(w, head.p, head.n);
    free(head.p);
    file_write(w, w->kv.p, w->kv.n);
    file_write(w, w->info.p, w->info.n);
    write_padding(w); /* the data section starts aligned */
    w->in_data = true;
    w->cur = 0;
    w->cur_done = 0;
    return w->st;
}

tlm_status tlm_gguf_writer_write(gguf_writer *w, const void *data, uint64_t n)
{
    if (w->st != TLM_OK) return w->st;
    if (!w->in_data) return fail(w, TLM_ERR_ARG, "tensor data written before begin_data");
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= arrlen(w->tensors))
            return fail(w, TLM_ERR_ARG, "%" PRIu64 " bytes of data beyond the last tensor", n);
        tensor_rec *t = &w->tensors[w->cur];
        uint64_t take = t->nbytes - w->cur_done;
        if (take > n) take = n;
        if (file_write(w, p, (size_t)take) != TLM_OK) return w->st;
        p += take;
        n -= take;
        w->cur_done += take;
        if (w->cur_done == t->nbytes) {
            if (write_padding(w) != TLM_OK) return w->st;
            w->cur++;
            w->cur_done = 0;
        }
    }
    return TLM_OK;
}

void tlm_gguf_writer_discard(gguf_writer *w)
{
    if (!w) return;
    if (w->fp) fclose(w->fp);
    remove(w->tmp_path);
    free_writer(w);
}

tlm_status tlm_gguf_writer_finish(gguf_writer *w)
{
    if (w->st == TLM_OK && !w->in_data) tlm_gguf_writer_begin_data(w);
    if (w->st == TLM_OK && w->cur < arrlen(w->tensors))
        fail(w, TLM_ERR_ARG, "tensor '%s' got %" PRIu64 " of its %" PRIu64 " bytes",
             w->tensors[w->cur].name, w->cur_done, w->tensors[w->cur].nbytes);
    if (w->st == TLM_OK && fflush(w->fp) != 0)
        fail(w, TLM_ERR_IO, "write failed: %s", strerror(errno));
    FILE *fp = w->fp;
    w->fp = NULL;
    if (fclose(fp) != 0 && w->st == TLM_OK)
        fail(w, TLM_ERR_IO, "close failed: %s", strerror(errno));
    if (w->st == TLM_OK && rename(w->tmp_path, w->path) != 0)
        fail(w, TLM_ERR_IO, "cannot rename %s into place: %s", w->tmp_path, strerror(errno));
    tlm_status st = w->st;
    if (st != TLM_OK) remove(w->tmp_path);
    free_writer(w);
    return st;
}
