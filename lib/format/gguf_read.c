/* gguf_read.c - GGUF v2/v3 reader.
 *
 * The file is mapped (mapped_file.c) and parsed once by a bounds-checked cursor: every length,
 * count and offset comes from the file, so each is checked against the bytes that remain
 * before it is used or anything is allocated for it. Tensor data must tile the data section
 * as ggml writes it (check_tiling). Tensor views and string values point into the map;
 * keys are copied so they can be NUL-terminated. */
#include "gguf_read.h"

#include <float.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "checked.h"
#include "mapped_file.h"

#define GGUF_MAX_KEY 65535u
#define GGUF_DEFAULT_ALIGNMENT 32u
/* Smallest encodings, used to bound counts before allocating: a key-value pair is a length
 * (8), a key of at least one byte, a type (4) and a value of at least one byte; a tensor info
 * is a name length (8), a name byte, n_dims (4), one ne (8), a type (4) and an offset (8). */
#define GGUF_MIN_KV_BYTES 14u
#define GGUF_MIN_TENSOR_INFO_BYTES 33u
#define GGUF_HEADER_BYTES 24u /* magic, version, n_tensors, n_kv */

typedef struct cursor {
    const uint8_t *base;
    uint64_t size;
    uint64_t pos;
    const char *path;
    tlm_error *err;
} cursor;

static uint64_t remaining(const cursor *c) { return c->size - c->pos; }

/* Little-endian loads assembled byte by byte: the map has no alignment and GGUF v3 files we
 * accept are little-endian regardless of the host. */
static uint64_t load_le(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static tlm_status truncated(cursor *c, const char *what, uint64_t need)
{
    return tlm_fail(c->err, TLM_ERR_FORMAT,
                    "%s: %s at offset %" PRIu64 ": needs %" PRIu64
                    " bytes but the file ends at %" PRIu64,
                    c->path, what, c->pos, need, c->size);
}

static tlm_status take(cursor *c, uint64_t n, const char *what, const uint8_t **out)
{
    *out = NULL;
    if (n > remaining(c)) return truncated(c, what, n);
    *out = c->base + c->pos;
    c->pos += n;
    return TLM_OK;
}

static tlm_status read_uint(cursor *c, int n, const char *what, uint64_t *out)
{
    const uint8_t *p;
    tlm_status st = take(c, (uint64_t)n, what, &p);
    if (st != TLM_OK) return st;
    *out = load_le(p, n);
    return TLM_OK;
}

static tlm_status read_u32(cursor *c, const char *what, uint32_t *out)
{
    uint64_t v;
    tlm_status st = read_uint(c, 4, what, &v);
    if (st == TLM_OK) *out = (uint32_t)v;
    return st;
}

/* A GGUF string: u64 length, then that many bytes (not terminated). */
static tlm_status read_string(cursor *c, const char *what, const uint8_t **ptr, uint64_t *len)
{
    uint64_t at = c->pos;
    tlm_status st = read_uint(c, 8, what, len);
    if (st != TLM_OK) return st;
    if (*len > remaining(c))
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: %s at offset %" PRIu64 ": length %" PRIu64
                        " runs past end of file (%" PRIu64 " bytes remain)",
                        c->path, what, at, *len, remaining(c));
    *ptr = c->base + c->pos;
    c->pos += *len;
    return TLM_OK;
}

uint64_t tlm_gguf_value_size(uint32_t t)
{
    switch (t) {
    case GGUF_U8:
    case GGUF_I8:
    case GGUF_BOOL:
        return 1;
    case GGUF_U16:
    case GGUF_I16:
        return 2;
    case GGUF_U32:
    case GGUF_I32:
    case GGUF_F32:
        return 4;
    case GGUF_U64:
    case GGUF_I64:
    case GGUF_F64:
        return 8;
    default:
        return 0;
    }
}

static bool vtype_known(uint32_t t) { return t <= GGUF_F64; }

static int64_t sign_extend(uint64_t v, int bytes)
{
    if (bytes == 8) return (int64_t)v;
    uint64_t sign = (uint64_t)1 << (bytes * 8 - 1);
    return (int64_t)(v ^ sign) - (int64_t)sign;
}

static double f32_bits(uint64_t v)
{
    uint32_t u = (uint32_t)v;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double f64_bits(uint64_t v)
{
    double d;
    memcpy(&d, &v, sizeof d);
    return d;
}

/* Reads one scalar value of type t into kv->v. */
static tlm_status read_scalar(cursor *c, gguf_kv *kv, uint32_t t)
{
    uint64_t at = c->pos, raw;
    int n = (int)tlm_gguf_value_size(t);
    tlm_status st = read_uint(c, n, "value", &raw);
    if (st != TLM_OK) return st;
    switch (t) {
    case GGUF_BOOL:
        if (raw > 1)
            return tlm_fail(c->err, TLM_ERR_FORMAT,
                            "%s: key '%s' at offset %" PRIu64 ": bool value %" PRIu64
                            " is not 0 or 1",
                            c->path, kv->key, at, raw);
        kv->v.u = raw;
        break;
    case GGUF_I8:
    case GGUF_I16:
    case GGUF_I32:
    case GGUF_I64:
        kv->v.i = sign_extend(raw, n);
        break;
    case GGUF_F32:
        kv->v.f = f32_bits(raw);
        break;
    case GGUF_F64:
        kv->v.f = f64_bits(raw);
        break;
    default:
        kv->v.u = raw;
        break;
    }
    return TLM_OK;
}

static tlm_status read_array(cursor *c, gguf_kv *kv)
{
    uint64_t at = c->pos;
    uint32_t et;
    uint64_t n;
    tlm_status st = read_u32(c, "array element type", &et);
    if (st == TLM_OK) st = read_uint(c, 8, "array count", &n);
    if (st != TLM_OK) return st;
    if (et == GGUF_ARRAY)
        return tlm_fail(c->err, TLM_ERR_UNSUPPORTED,
                        "%s: key '%s' at offset %" PRIu64 ": nested arrays are not supported",
                        c->path, kv->key, at);
    if (!vtype_known(et))
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: key '%s' at offset %" PRIu64 ": unknown array element type %" PRIu32,
                        c->path, kv->key, at, et);
    kv->v.arr.type = (gguf_vtype)et;
    kv->v.arr.n = n;
    kv->v.arr.data = c->base + c->pos;

    if (et != GGUF_STRING) {
        uint64_t bytes;
        if (!tlm_mul_u64(n, tlm_gguf_value_size(et), &bytes) || bytes > remaining(c))
            return tlm_fail(c->err, TLM_ERR_FORMAT,
                            "%s: key '%s' at offset %" PRIu64 ": array of %" PRIu64
                            " elements of %" PRIu64 " bytes runs past end of file (%" PRIu64
                            " bytes remain)",
                            c->path, kv->key, at, n, tlm_gguf_value_size(et), remaining(c));
        if (et == GGUF_BOOL) {
            for (uint64_t i = 0; i < n; i++)
                if (kv->v.arr.data[i] > 1)
                    return tlm_fail(c->err, TLM_ERR_FORMAT,
                                    "%s: key '%s' at offset %" PRIu64 ": bool element %" PRIu64
                                    " is not 0 or 1",
                                    c->path, kv->key, c->pos + i, i);
        }
        c->pos += bytes;
        return TLM_OK;
    }

    /* Each string needs at least its 8-byte length, so n is bounded before allocating. */
    if (n > remaining(c) / 8)
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: key '%s' at offset %" PRIu64 ": string array count %" PRIu64
                        " exceeds what the remaining %" PRIu64 " bytes can hold",
                        c->path, kv->key, at, n, remaining(c));
    if (n == 0) return TLM_OK;
    kv->v.arr.str_offsets = malloc((size_t)n * sizeof *kv->v.arr.str_offsets);
    if (!kv->v.arr.str_offsets)
        return tlm_fail(c->err, TLM_ERR_NO_MEMORY,
                        "%s: key '%s': no memory for %" PRIu64 " string offsets", c->path, kv->key,
                        n);
    uint64_t first = c->pos;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p;
        uint64_t len;
        kv->v.arr.str_offsets[i] = c->pos - first;
        st = read_string(c, "array string", &p, &len);
        if (st != TLM_OK) return st;
    }
    return TLM_OK;
}

static tlm_status read_kv(cursor *c, gguf_kv *kv)
{
    uint64_t at = c->pos, len;
    const uint8_t *p;
    tlm_status st = read_string(c, "key", &p, &len);
    if (st != TLM_OK) return st;
    const char *bad = len == 0                    ? "is empty"
                      : len > GGUF_MAX_KEY        ? "is over 65535 bytes"
                      : memchr(p, 0, (size_t)len) ? "contains a NUL byte"
                                                  : NULL;
    if (bad)
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: key at offset %" PRIu64 " (length %" PRIu64 ") %s", c->path, at, len,
                        bad);
    kv->key = malloc((size_t)len + 1);
    if (!kv->key)
        return tlm_fail(c->err, TLM_ERR_NO_MEMORY, "%s: no memory for key at offset %" PRIu64,
                        c->path, at);
    memcpy(kv->key, p, (size_t)len);
    kv->key[len] = '\0';

    uint64_t tat = c->pos;
    uint32_t t;
    st = read_u32(c, "value type", &t);
    if (st != TLM_OK) return st;
    if (!vtype_known(t))
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: key '%s' at offset %" PRIu64 ": unknown value type %" PRIu32, c->path,
                        kv->key, tat, t);
    kv->type = (gguf_vtype)t;
    if (t == GGUF_STRING) {
        st = read_string(c, "string value", &p, &len);
        if (st != TLM_OK) return st;
        kv->v.str.ptr = (const char *)p;
        kv->v.str.len = len;
        return TLM_OK;
    }
    if (t == GGUF_ARRAY) return read_array(c, kv);
    return read_scalar(c, kv, t);
}

/* Sorting pointers to names finds duplicates in O(n log n) whatever the file claims. */
static int cmp_name_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *find_duplicate(const char **names, uint64_t n)
{
    if (n < 2) return NULL;
    qsort(names, (size_t)n, sizeof *names, cmp_name_ptr);
    for (uint64_t i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0) return names[i];
    return NULL;
}

static tlm_status check_duplicates(gguf_file *f, tlm_error *err)
{
    uint64_t n = (uint64_t)(f->n_kv > f->n_tensors ? f->n_kv : f->n_tensors);
    if (n < 2) return TLM_OK;
    const char **names = malloc((size_t)n * sizeof *names);
    if (!names) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for name check", f->path);
    tlm_status st = TLM_OK;
    for (int64_t i = 0; i < f->n_kv; i++)
        names[i] = f->kv[i].key;
    const char *dup = find_duplicate(names, (uint64_t)f->n_kv);
    if (dup) {
        st = tlm_fail(err, TLM_ERR_FORMAT, "%s: duplicate key '%s'", f->path, dup);
    } else {
        for (int64_t i = 0; i < f->n_tensors; i++)
            names[i] = f->tensors[i].name;
        dup = find_duplicate(names, (uint64_t)f->n_tensors);
        if (dup) st = tlm_fail(err, TLM_ERR_FORMAT, "%s: duplicate tensor name '%s'", f->path, dup);
    }
    free(names);
    return st;
}

static tlm_status read_alignment(gguf_file *f, tlm_error *err)
{
    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    const gguf_kv *kv = tlm_gguf_find(f, "general.alignment");
    if (!kv) return TLM_OK;
    if (kv->type != GGUF_U32)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: general.alignment has value type %d, expected u32 (%d)", f->path,
                        (int)kv->type, (int)GGUF_U32);
    uint64_t a = kv->v.u;
    if (a == 0 || (a & (a - 1)) != 0)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: general.alignment %" PRIu64 " is not a power of two", f->path, a);
    f->alignment = a;
    return TLM_OK;
}

/* One tensor info; the data range is checked later, once the data section start is known. */
static tlm_status read_tensor_info(cursor *c, tlm_tensor *t, uint64_t *offset)
{
    uint64_t at = c->pos, len;
    const uint8_t *p;
    tlm_status st = read_string(c, "tensor name", &p, &len);
    if (st != TLM_OK) return st;
    const char *bad = len == 0                    ? "is empty"
                      : len >= TLM_MAX_NAME       ? "is too long"
                      : memchr(p, 0, (size_t)len) ? "contains a NUL byte"
                                                  : NULL;
    if (bad)
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: tensor name at offset %" PRIu64 " (length %" PRIu64 ", limit %d) %s",
                        c->path, at, len, TLM_MAX_NAME - 1, bad);
    memcpy(t->name, p, (size_t)len);
    t->name[len] = '\0';

    uint64_t dat = c->pos;
    uint32_t n_dims;
    st = read_u32(c, "tensor n_dims", &n_dims);
    if (st != TLM_OK) return st;
    if (n_dims < 1 || n_dims > TLM_MAX_DIMS)
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' at offset %" PRIu64 ": n_dims %" PRIu32 " is not in 1..%d",
                        c->path, t->name, dat, n_dims, TLM_MAX_DIMS);
    t->n_dims = (int32_t)n_dims;
    uint64_t nelem = 1;
    for (int d = 0; d < TLM_MAX_DIMS; d++)
        t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        uint64_t nat = c->pos, ne;
        st = read_uint(c, 8, "tensor ne", &ne);
        if (st != TLM_OK) return st;
        /* ne products are taken in int64 by users (tlm_tensor_nelem), so bound them here */
        if (ne == 0 || !tlm_mul_u64(nelem, ne, &nelem) || nelem > (uint64_t)INT64_MAX)
            return tlm_fail(
                c->err, TLM_ERR_FORMAT,
                "%s: tensor '%s' at offset %" PRIu64 ": ne[%" PRIu32 "] = %" PRIu64 "%s", c->path,
                t->name, nat, d, ne, ne == 0 ? " is zero" : ": element count exceeds 2^63 - 1");
        t->ne[d] = (int64_t)ne;
    }

    uint64_t tat = c->pos;
    uint32_t type;
    st = read_u32(c, "tensor type", &type);
    if (st != TLM_OK) return st;
    const tlm_type_traits *tr = tlm_type_get(type);
    if (!tr)
        return tlm_fail(c->err, TLM_ERR_UNSUPPORTED,
                        "%s: tensor '%s' at offset %" PRIu64 ": type %" PRIu32
                        " (%s) is not supported",
                        c->path, t->name, tat, type,
                        tlm_type_gguf_name(type) ? tlm_type_gguf_name(type) : "unknown to GGUF");
    t->type = (tlm_type)type;
    if (t->ne[0] % tr->block_elems != 0)
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' at offset %" PRIu64 ": ne[0] = %" PRId64
                        " is not a multiple of the %s block size %" PRId32,
                        c->path, t->name, dat, t->ne[0], tr->name, tr->block_elems);
    uint64_t nbytes;
    bool fits = tlm_type_row_bytes(t->type, t->ne[0], &nbytes);
    for (int d = 1; d < TLM_MAX_DIMS && fits; d++)
        fits = tlm_mul_u64(nbytes, (uint64_t)t->ne[d], &nbytes);
    if (!fits)
        return tlm_fail(c->err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' at offset %" PRIu64 ": byte size overflows 64 bits",
                        c->path, t->name, dat);
    t->nbytes = nbytes;
    return read_uint(c, 8, "tensor offset", offset);
}

/* Grows *arr (elements of `elem` bytes) to hold at least `need`, doubling up to `limit`, so
 * memory follows what the file actually contains rather than what its counts claim. */
static bool grow(void **arr, uint64_t *cap, uint64_t need, uint64_t limit, size_t elem)
{
    if (need <= *cap) return true;
    uint64_t n = *cap ? *cap * 2 : 64;
    if (n > limit) n = limit;
    if (n < need) n = need;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return false;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(n - *cap) * elem);
    *arr = p;
    *cap = n;
    return true;
}

/* ggml's layout rule (gguf.cpp, gguf_init_from_file_impl): tensor i starts where tensor i - 1
 * ends, rounded up to the alignment, so the data section is tiled in file order with no gap
 * or overlap. llama.cpp refuses other files; a tensor whose type or shape was rewritten
 * without moving its neighbours breaks the rule at the next tensor, so that one is named
 * with the one before it. The last tensor's padding may be missing, and bytes may follow it
 * (llama.cpp's mapped loader asks only that each tensor lie inside the file). */
static tlm_status check_tiling(const gguf_file *f, int64_t i, uint64_t off, uint64_t info_at,
                               uint64_t *expect, tlm_error *err)
{
    const tlm_tensor *t = &f->tensors[i];
    if (off != *expect) {
        if (i == 0)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: tensor '%s' at offset %" PRIu64 ": data offset %" PRIu64
                            ", but the first tensor must start the data section (offset 0)",
                            f->path, t->name, info_at, off);
        const tlm_tensor *p = &f->tensors[i - 1];
        const tlm_type_traits *tr = tlm_type_get(p->type);
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tensor '%s' at offset %" PRIu64 ": data offset %" PRIu64
                        " %s: expected %" PRIu64 ", the aligned end of '%s' (%s, %" PRIu64
                        " bytes) before it",
                        f->path, t->name, info_at, off, off < *expect ? "overlaps" : "leaves a gap",
                        *expect, p->name, tr ? tr->name : "?", p->nbytes);
    }
    /* cannot overflow: off + nbytes lies inside the file (checked by the caller) */
    uint64_t end = off + t->nbytes;
    *expect = end + (f->alignment - end % f->alignment) % f->alignment;
    return TLM_OK;
}

static tlm_status parse(gguf_file *f, tlm_error *err)
{
    cursor c = {f->map, f->size, 0, f->path, err};
    const uint8_t *magic;
    tlm_status st = take(&c, 4, "magic", &magic);
    if (st != TLM_OK) return st;
    if (memcmp(magic, "GGUF", 4) != 0)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: offset 0: bad magic (not a GGUF file)", f->path);
    st = read_u32(&c, "version", &f->version);
    if (st != TLM_OK) return st;
    if (f->version != 2 && f->version != 3)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: offset 4: GGUF version %" PRIu32 " (only 2 and 3 are supported)",
                        f->path, f->version);
    uint64_t n_tensors, n_kv;
    st = read_uint(&c, 8, "n_tensors", &n_tensors);
    if (st == TLM_OK) st = read_uint(&c, 8, "n_kv", &n_kv);
    if (st != TLM_OK) return st;
    if (n_kv > remaining(&c) / GGUF_MIN_KV_BYTES)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: offset 16: n_kv %" PRIu64 " exceeds what the remaining %" PRIu64
                        " bytes can hold",
                        f->path, n_kv, remaining(&c));

    uint64_t cap = 0;
    for (uint64_t i = 0; i < n_kv; i++) {
        if (!grow((void **)&f->kv, &cap, i + 1, n_kv, sizeof *f->kv))
            return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " keys", f->path,
                            n_kv);
        f->n_kv = (int64_t)i + 1; /* counted before reading so close() frees a partial kv */
        st = read_kv(&c, &f->kv[i]);
        if (st != TLM_OK) return st;
    }
    st = read_alignment(f, err);
    if (st != TLM_OK) return st;

    if (n_tensors > remaining(&c) / GGUF_MIN_TENSOR_INFO_BYTES)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: offset 8: n_tensors %" PRIu64 " exceeds what the remaining %" PRIu64
                        " bytes after the metadata can hold",
                        f->path, n_tensors, remaining(&c));
    uint64_t *offsets = NULL, *info_at = NULL;
    cap = 0;
    uint64_t cap2 = 0, cap3 = 0;
    for (uint64_t i = 0; i < n_tensors && st == TLM_OK; i++) {
        if (!grow((void **)&f->tensors, &cap, i + 1, n_tensors, sizeof *f->tensors) ||
            !grow((void **)&offsets, &cap2, i + 1, n_tensors, sizeof *offsets) ||
            !grow((void **)&info_at, &cap3, i + 1, n_tensors, sizeof *info_at)) {
            st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " tensors", f->path,
                          n_tensors);
            break;
        }
        f->n_tensors = (int64_t)i + 1;
        info_at[i] = c.pos;
        st = read_tensor_info(&c, &f->tensors[i], &offsets[i]);
    }

    if (st == TLM_OK) {
        uint64_t data;
        if (!tlm_add_u64(c.pos, f->alignment - 1, &data)) {
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: data section offset overflows", f->path);
        } else {
            data -= data % f->alignment;
            /* Files without tensors (vocab-only) may end before the padding. */
            f->data_offset = data <= f->size ? data : f->size;
            if (data > f->size && f->n_tensors > 0)
                st = tlm_fail(err, TLM_ERR_FORMAT,
                              "%s: offset %" PRIu64 ": data section (aligned to %" PRIu64
                              ") starts at %" PRIu64 ", past end of file (size %" PRIu64 ")",
                              f->path, c.pos, f->alignment, data, f->size);
        }
    }
    uint64_t expect = 0; /* where the next tensor must start: the aligned end of the last */
    for (int64_t i = 0; i < f->n_tensors && st == TLM_OK; i++) {
        tlm_tensor *t = &f->tensors[i];
        uint64_t off = offsets[i], abs;
        if (off % f->alignment != 0) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: tensor '%s' at offset %" PRIu64 ": data offset %" PRIu64
                          " is not a multiple of the alignment %" PRIu64,
                          f->path, t->name, info_at[i], off, f->alignment);
        } else if (!tlm_add_u64(f->data_offset, off, &abs) ||
                   !tlm_range_ok(abs, t->nbytes, f->size)) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: tensor '%s' at offset %" PRIu64 ": %" PRIu64
                          " bytes at data offset %" PRIu64 " run past end of file (size %" PRIu64
                          ")",
                          f->path, t->name, info_at[i], t->nbytes, off, f->size);
        } else {
            st = check_tiling(f, i, off, info_at[i], &expect, err);
            t->data = f->map + abs;
        }
    }
    free(offsets);
    free(info_at);
    if (st != TLM_OK) return st;
    return check_duplicates(f, err);
}

tlm_status tlm_gguf_open(const char *path, gguf_file **out, tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_gguf_open: out is NULL");
    *out = NULL;
    if (!path) return tlm_fail(err, TLM_ERR_ARG, "tlm_gguf_open: path is NULL");

    tlm_mapped_file mf;
    tlm_status st = tlm_map_file(path, GGUF_HEADER_BYTES, "a GGUF header", &mf, err);
    if (st != TLM_OK) return st;

    gguf_file *f = calloc(1, sizeof *f);
    char *p = f ? strdup(path) : NULL;
    if (!p) {
        free(f);
        tlm_unmap_file(&mf);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", path);
    }
    f->path = p;
    f->map = mf.data;
    f->size = mf.size;
    st = parse(f, err);
    if (st != TLM_OK) {
        tlm_gguf_close(f);
        return st;
    }
    *out = f;
    return TLM_OK;
}

void tlm_gguf_close(gguf_file *f)
{
    if (!f) return;
    for (int64_t i = 0; i < f->n_kv; i++) {
        free(f->kv[i].key);
        if (f->kv[i].type == GGUF_ARRAY) free(f->kv[i].v.arr.str_offsets);
    }
    free(f->kv);
    free(f->tensors);
    tlm_unmap_file(&(tlm_mapped_file){(uint8_t *)f->map, f->size});
    free(f->path);
    free(f);
}

const gguf_kv *tlm_gguf_find(const gguf_file *f, const char *key)
{
    if (!f || !key) return NULL;
    for (int64_t i = 0; i < f->n_kv; i++)
        if (f->kv[i].key && strcmp(f->kv[i].key, key) == 0) return &f->kv[i];
    return NULL;
}

const tlm_tensor *tlm_gguf_find_tensor(const gguf_file *f, const char *name)
{
    if (!f || !name) return NULL;
    for (int64_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

static bool is_unsigned(gguf_vtype t)
{
    return t == GGUF_U8 || t == GGUF_U16 || t == GGUF_U32 || t == GGUF_U64;
}

static bool is_signed(gguf_vtype t)
{
    return t == GGUF_I8 || t == GGUF_I16 || t == GGUF_I32 || t == GGUF_I64;
}

bool tlm_gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out)
{
    const gguf_kv *kv = tlm_gguf_find(f, key);
    if (!kv || !out) return false;
    if (is_unsigned(kv->type) && kv->v.u <= UINT32_MAX) {
        *out = (uint32_t)kv->v.u;
        return true;
    }
    if (is_signed(kv->type) && kv->v.i >= 0 && kv->v.i <= (int64_t)UINT32_MAX) {
        *out = (uint32_t)kv->v.i;
        return true;
    }
    return false;
}

bool tlm_gguf_get_f32(const gguf_file *f, const char *key, float *out)
{
    const gguf_kv *kv = tlm_gguf_find(f, key);
    if (!kv || !out) return false;
    if (kv->type == GGUF_F32 || kv->type == GGUF_F64) {
        double d = kv->v.f;
        /* converting a finite double beyond float range is undefined; inf and NaN pass */
        bool finite = d - d == 0.0;
        if (finite && (d > FLT_MAX || d < -FLT_MAX)) return false;
        *out = (float)d;
        return true;
    }
    if (is_unsigned(kv->type)) {
        *out = (float)kv->v.u;
        return true;
    }
    if (is_signed(kv->type)) {
        *out = (float)kv->v.i;
        return true;
    }
    return false;
}

bool tlm_gguf_get_bool(const gguf_file *f, const char *key, bool *out)
{
    const gguf_kv *kv = tlm_gguf_find(f, key);
    if (!kv || !out || kv->type != GGUF_BOOL) return false;
    *out = kv->v.u != 0;
    return true;
}

bool tlm_gguf_get_str(const gguf_file *f, const char *key, char *buf, uint64_t cap)
{
    const gguf_kv *kv = tlm_gguf_find(f, key);
    if (!kv || !buf || cap == 0 || kv->type != GGUF_STRING) return false;
    uint64_t n = kv->v.str.len < cap - 1 ? kv->v.str.len : cap - 1;
    memcpy(buf, kv->v.str.ptr, (size_t)n);
    buf[n] = '\0';
    return true;
}

/* For STRING arrays, arr.data points at element 0's length prefix and str_offsets[i] is the
 * distance from there to element i's prefix, so the lookup needs no file handle. */
const char *tlm_gguf_arr_str(const gguf_kv *kv, uint64_t i, uint64_t *len)
{
    if (len) *len = 0;
    if (!kv || kv->type != GGUF_ARRAY || kv->v.arr.type != GGUF_STRING || i >= kv->v.arr.n ||
        !kv->v.arr.str_offsets)
        return NULL;
    const uint8_t *p = kv->v.arr.data + kv->v.arr.str_offsets[i];
    if (len) *len = load_le(p, 8);
    return (const char *)(p + 8);
}
