/* safetensors_read.c - Hugging Face safetensors reader (one file, or shards named by
 * model.safetensors.index.json).
 *
 * Each file is mapped (mapped_file.c); its JSON header is copied out, parsed with cJSON and checked
 * entry by entry (dtype, shape, offsets, byte size), then as a whole (no duplicate names, the
 * entries tile the byte buffer exactly). Only F32, F16 and BF16 tensors are listed. */
#include "safetensors_read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "checked.h"
#include "mapped_file.h"

#define ST_MAX_HEADER 100000000u          /* safetensors' MAX_HEADER_SIZE */
#define ST_MAX_INDEX 100000000u           /* an index.json larger than this is not an index */
#define JSON_MAX_EXACT 9007199254740992.0 /* 2^53: beyond this a JSON number is not exact */

typedef struct st_map {
    char *path;
    const uint8_t *map;
    uint64_t size;
} st_map;

struct st_set {
    st_map *maps;
    uint64_t n_maps, cap_maps;
    tlm_tensor *tensors;
    uint64_t n_tensors, cap_tensors;
    void **copies; /* aligned copies of tensors whose mapped data is misaligned */
    uint64_t n_copies, cap_copies;
};

/* Every dtype safetensors defines, so sizes of skipped tensors are still validated. */
static const struct dtype_info {
    const char *name;
    uint32_t bits;
    bool listed;
    tlm_type type;
} dtypes[] = {
    {"BOOL", 8, false, 0},
    {"F4", 4, false, 0},
    {"F6_E2M3", 6, false, 0},
    {"F6_E3M2", 6, false, 0},
    {"U8", 8, false, 0},
    {"I8", 8, false, 0},
    {"F8_E5M2", 8, false, 0},
    {"F8_E4M3", 8, false, 0},
    {"F8_E8M0", 8, false, 0},
    {"F8_E4M3FNUZ", 8, false, 0},
    {"F8_E5M2FNUZ", 8, false, 0},
    {"I16", 16, false, 0},
    {"U16", 16, false, 0},
    {"F16", 16, true, TLM_TYPE_F16},
    {"BF16", 16, true, TLM_TYPE_BF16},
    {"I32", 32, false, 0},
    {"U32", 32, false, 0},
    {"F32", 32, true, TLM_TYPE_F32},
    {"C64", 64, false, 0},
    {"F64", 64, false, 0},
    {"I64", 64, false, 0},
    {"U64", 64, false, 0},
};

/* One header entry, validated. name points into the cJSON tree. */
typedef struct entry {
    const char *name;
    const struct dtype_info *dtype;
    uint64_t rank;
    int64_t ne[TLM_MAX_DIMS]; /* ggml order, filled when rank <= TLM_MAX_DIMS */
    uint64_t begin, end;
    uint64_t order; /* position in the JSON object */
} entry;

/* A parsed header: entries sorted by name, and where the byte buffer starts in the file. */
typedef struct header {
    cJSON *root;
    entry *entries;
    uint64_t n;
    uint64_t buf_start;
} header;

static void header_free(header *h)
{
    cJSON_Delete(h->root);
    free(h->entries);
    h->root = NULL;
    h->entries = NULL;
    h->n = 0;
}

static bool grow(void **arr, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap) return true;
    uint64_t n = *cap ? *cap * 2 : 16;
    if (n < need) n = need;
    if (n > SIZE_MAX / elem) return false;
    void *p = realloc(*arr, (size_t)n * elem);
    if (!p) return false;
    *arr = p;
    *cap = n;
    return true;
}

static tlm_status map_file(const char *path, st_map *m, tlm_error *err)
{
    tlm_mapped_file mf;
    tlm_status st = tlm_map_file(path, 1, NULL, &mf, err);
    m->map = mf.data;
    m->size = mf.size;
    return st;
}

/* Maps path and records the mapping in the set, so tlm_st_close releases it on any later error. */
static tlm_status set_map(st_set *s, const char *path, st_map **out, tlm_error *err)
{
    if (!grow((void **)&s->maps, &s->cap_maps, s->n_maps + 1, sizeof *s->maps))
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", path);
    st_map *m = &s->maps[s->n_maps];
    memset(m, 0, sizeof *m);
    m->path = strdup(path);
    if (!m->path) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", path);
    s->n_maps++;
    *out = m;
    return map_file(path, m, err);
}

static bool json_space(uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Parses n bytes of JSON (not terminated, untrusted) allowing only whitespace after the value.
 * The bytes are copied and terminated so the parser can never run past them. file_offset is
 * where they start in the file, for messages. */
static tlm_status parse_json(const char *path, const uint8_t *bytes, uint64_t n,
                             uint64_t file_offset, cJSON **out, tlm_error *err)
{
    *out = NULL;
    char *text = malloc((size_t)n + 1);
    if (!text) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for the JSON header", path);
    memcpy(text, bytes, (size_t)n);
    text[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, (size_t)n, &end, 0);
    uint64_t at = end ? (uint64_t)(end - text) : 0;
    free(text);
    if (!root)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: invalid JSON at offset %" PRIu64, path,
                        file_offset + at);
    for (uint64_t i = at; i < n; i++)
        if (!json_space(bytes[i])) {
            cJSON_Delete(root);
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: unexpected byte 0x%02x after the JSON at offset %" PRIu64, path,
                            bytes[i], file_offset + i);
        }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: JSON at offset %" PRIu64 " is not an object",
                        path, file_offset);
    }
    *out = root;
    return TLM_OK;
}

/* A JSON number that is a non-negative integer small enough to be exact. */
static bool json_u64(const cJSON *it, uint64_t *out)
{
    if (!cJSON_IsNumber(it)) return false;
    double d = it->valuedouble;
    if (!(d >= 0.0 && d <= JSON_MAX_EXACT)) return false;
    uint64_t u = (uint64_t)d;
    if ((double)u != d) return false;
    *out = u;
    return true;
}

static const struct dtype_info *dtype_find(const char *name)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dtypes[i].name, name) == 0) return &dtypes[i];
    return NULL;
}

static int cmp_entry_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static int cmp_entry_begin(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

static int cmp_entry_order(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Validates one tensor entry: {"dtype": str, "shape": [uint...], "data_offsets": [b, e]}. */
static tlm_status read_entry(const char *path, const cJSON *item, entry *e, tlm_error *err)
{
    const char *name = e->name;
    if (!cJSON_IsObject(item))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: header entry '%s' is not an object", path, name);
    const cJSON *dtype = NULL, *shape = NULL, *offs = NULL, *m;
    cJSON_ArrayForEach(m, item)
    {
        const cJSON **slot = NULL;
        if (strcmp(m->string, "dtype") == 0)
            slot = &dtype;
        else if (strcmp(m->string, "shape") == 0)
            slot = &shape;
        else if (strcmp(m->string, "data_offsets") == 0)
            slot = &offs;
        if (!slot) continue; /* unknown fields are ignored, as safetensors does */
        if (*slot)
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor '%s': duplicate field '%s'", path,
                            name, m->string);
        *slot = m;
    }
    if (!cJSON_IsString(dtype))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor '%s': dtype missing or not a string", path,
                        name);
    e->dtype = dtype_find(dtype->valuestring);
    if (!e->dtype)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%.40s'", path, name,
                        dtype->valuestring);

    if (!cJSON_IsArray(shape))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor '%s': shape missing or not an array", path,
                        name);
    uint64_t rank = (uint64_t)cJSON_GetArraySize(shape), numel = 1, d = 0;
    for (int k = 0; k < TLM_MAX_DIMS; k++)
        e->ne[k] = 1;
    cJSON_ArrayForEach(m, shape)
    {
        uint64_t dim;
        if (!json_u64(m, &dim))
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: tensor '%s': shape[%" PRIu64 "] is not a non-negative integer",
                            path, name, d);
        if (!tlm_mul_u64(numel, dim, &numel))
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor '%s': element count overflows", path,
                            name);
        /* PyTorch order [.., out, in] becomes ggml order ne[0] = in */
        if (rank <= TLM_MAX_DIMS) e->ne[rank - 1 - d] = (int64_t)dim;
        d++;
    }
    e->rank = rank;

    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_u64(cJSON_GetArrayItem(offs, 0), &e->begin) ||
        !json_u64(cJSON_GetArrayItem(offs, 1), &e->end) || e->begin > e->end)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tensor '%s': data_offsets must be [begin, end], non-negative "
                        "integers with begin <= end",
                        path, name);

    uint64_t bits;
    if (!tlm_mul_u64(numel, e->dtype->bits, &bits))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: tensor '%s': byte size overflows", path, name);
    if (bits % 8 != 0)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tensor '%s': %" PRIu64 " elements of %s are not a whole number "
                        "of bytes",
                        path, name, numel, e->dtype->name);
    if (bits / 8 != e->end - e->begin)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: tensor '%s': shape needs %" PRIu64 " bytes of %s but data_offsets "
                        "[%" PRIu64 ", %" PRIu64 "] hold %" PRIu64,
                        path, name, bits / 8, e->dtype->name, e->begin, e->end, e->end - e->begin);
    return TLM_OK;
}

static tlm_status read_metadata(const char *path, const cJSON *meta, tlm_error *err)
{
    if (!cJSON_IsObject(meta))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: __metadata__ is not an object", path);
    const cJSON *m;
    cJSON_ArrayForEach(m, meta)
    {
        if (!cJSON_IsString(m))
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: __metadata__ '%s' is not a string", path,
                            m->string);
    }
    return TLM_OK;
}

/* Reads and validates the header of a mapped file; on success h->entries is sorted by name. */
static tlm_status read_header(const st_map *f, header *h, tlm_error *err)
{
    const char *path = f->path;
    memset(h, 0, sizeof *h);
    if (f->size < 8)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: file is %" PRIu64 " bytes, too small for a safetensors header", path,
                        f->size);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = (n << 8) | f->map[i];
    if (n > ST_MAX_HEADER)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: offset 0: header length %" PRIu64 " exceeds the limit %u", path, n,
                        ST_MAX_HEADER);
    if (n > f->size - 8)
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: offset 0: header length %" PRIu64
                        " runs past end of file (size %" PRIu64 ")",
                        path, n, f->size);
    if (n < 2 || f->map[8] != '{')
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: offset 8: header does not start with '{'", path);
    h->buf_start = 8 + n;
    uint64_t buf_len = f->size - h->buf_start;

    tlm_status st = parse_json(path, f->map + 8, n, 8, &h->root, err);
    if (st != TLM_OK) return st;

    uint64_t count = (uint64_t)cJSON_GetArraySize(h->root);
    h->entries = calloc(count ? (size_t)count : 1, sizeof *h->entries);
    if (!h->entries) {
        header_free(h);
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for %" PRIu64 " entries", path,
                        count);
    }
    const cJSON *item, *meta = NULL;
    cJSON_ArrayForEach(item, h->root)
    {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (meta) {
                st = tlm_fail(err, TLM_ERR_FORMAT, "%s: duplicate key '__metadata__'", path);
                break;
            }
            meta = item;
            st = read_metadata(path, item, err);
        } else {
            entry *e = &h->entries[h->n];
            e->name = item->string;
            e->order = h->n++;
            st = read_entry(path, item, e, err);
        }
        if (st != TLM_OK) break;
    }
    if (st != TLM_OK) {
        header_free(h);
        return st;
    }

    /* names first, so a repeated entry is reported as such rather than as an overlap */
    qsort(h->entries, (size_t)h->n, sizeof *h->entries, cmp_entry_name);
    for (uint64_t i = 1; i < h->n && st == TLM_OK; i++)
        if (strcmp(h->entries[i - 1].name, h->entries[i].name) == 0)
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: duplicate tensor name '%s'", path,
                          h->entries[i].name);

    if (st == TLM_OK) qsort(h->entries, (size_t)h->n, sizeof *h->entries, cmp_entry_begin);
    uint64_t expect = 0;
    for (uint64_t i = 0; i < h->n && st == TLM_OK; i++) {
        const entry *e = &h->entries[i];
        if (e->begin != expect)
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: tensor '%s' at offset %" PRIu64 ": data begins at %" PRIu64
                          " but the previous tensor ends at %" PRIu64 " (%s)",
                          path, e->name, h->buf_start + e->begin, e->begin, expect,
                          e->begin > expect ? "hole" : "overlap");
        expect = e->end;
    }
    if (st == TLM_OK && expect != buf_len)
        st = tlm_fail(err, TLM_ERR_FORMAT,
                      "%s: tensors end at buffer offset %" PRIu64 " but the buffer holds %" PRIu64
                      " bytes (file size %" PRIu64 ")",
                      path, expect, buf_len, f->size);
    if (st == TLM_OK) qsort(h->entries, (size_t)h->n, sizeof *h->entries, cmp_entry_name);
    if (st != TLM_OK) header_free(h);
    return st;
}

/* Adds a view of e (if its dtype is listed), copying misaligned data to an aligned buffer. */
static tlm_status list_entry(st_set *s, const st_map *f, const header *h, const entry *e,
                             tlm_error *err)
{
    if (!e->dtype->listed) return TLM_OK;
    if (e->rank > TLM_MAX_DIMS)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: tensor '%s' has %" PRIu64 " dimensions (at most %d supported)",
                        f->path, e->name, e->rank, TLM_MAX_DIMS);
    size_t len = strlen(e->name);
    if (len >= TLM_MAX_NAME)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "%s: tensor name '%.40s...' is %zu bytes (limit %d)", f->path, e->name, len,
                        TLM_MAX_NAME - 1);
    if (!grow((void **)&s->tensors, &s->cap_tensors, s->n_tensors + 1, sizeof *s->tensors))
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory for tensors", f->path);

    uint64_t nbytes = e->end - e->begin, elsize = e->dtype->bits / 8;
    const uint8_t *data = f->map + h->buf_start + e->begin;
    if (nbytes > 0 && (uintptr_t)data % elsize != 0) {
        if (!grow((void **)&s->copies, &s->cap_copies, s->n_copies + 1, sizeof *s->copies))
            return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", f->path);
        void *copy = malloc((size_t)nbytes); /* malloc alignment covers every element size */
        if (!copy)
            return tlm_fail(err, TLM_ERR_NO_MEMORY,
                            "%s: tensor '%s': no memory for an aligned copy of %" PRIu64 " bytes",
                            f->path, e->name, nbytes);
        memcpy(copy, data, (size_t)nbytes);
        s->copies[s->n_copies++] = copy;
        data = copy;
    }
    tlm_tensor *t = &s->tensors[s->n_tensors++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, e->name, len + 1);
    t->type = e->dtype->type;
    t->n_dims = (int32_t)e->rank;
    memcpy(t->ne, e->ne, sizeof t->ne);
    t->data = data;
    t->nbytes = nbytes;
    return TLM_OK;
}

static tlm_status open_single(st_set *s, const char *path, tlm_error *err)
{
    st_map *f;
    tlm_status st = set_map(s, path, &f, err);
    if (st != TLM_OK) return st;
    header h;
    st = read_header(f, &h, err);
    if (st != TLM_OK) return st;
    qsort(h.entries, (size_t)h.n, sizeof *h.entries, cmp_entry_order);
    for (uint64_t i = 0; i < h.n && st == TLM_OK; i++)
        st = list_entry(s, f, &h, &h.entries[i], err);
    header_free(&h);
    return st;
}

/* ---- sharded checkpoints --------------------------------------------------------------- */

typedef struct wanted {
    const char *name;  /* tensor name (in the index's cJSON tree) */
    const char *shard; /* shard file name */
} wanted;

static int cmp_wanted_name(const void *a, const void *b)
{
    return strcmp(((const wanted *)a)->name, ((const wanted *)b)->name);
}

static int cmp_wanted_shard(const void *a, const void *b)
{
    const wanted *x = a, *y = b;
    int c = strcmp(x->shard, y->shard);
    return c ? c : strcmp(x->name, y->name);
}

static char *join_path(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

/* Opens one shard and lists the n tensors the index assigns to it; adds their bytes to *total. */
static tlm_status open_shard(st_set *s, const char *index_path, const char *path, const wanted *w,
                             uint64_t n, uint64_t *total, tlm_error *err)
{
    st_map *f;
    tlm_status st = set_map(s, path, &f, err);
    if (st != TLM_OK) return st;
    header h;
    st = read_header(f, &h, err);
    if (st != TLM_OK) return st;
    for (uint64_t i = 0; i < n && st == TLM_OK; i++) {
        entry key = {0};
        key.name = w[i].name;
        const entry *e = bsearch(&key, h.entries, (size_t)h.n, sizeof *h.entries, cmp_entry_name);
        if (!e) {
            st = tlm_fail(err, TLM_ERR_FORMAT,
                          "%s: tensor '%s' (weight_map in %s) is not in the shard", path, w[i].name,
                          index_path);
        } else if (!tlm_add_u64(*total, e->end - e->begin, total)) {
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: total tensor bytes overflow", index_path);
        } else {
            st = list_entry(s, f, &h, e, err);
        }
    }
    header_free(&h);
    return st;
}

static bool shard_name_ok(const char *name)
{
    return name[0] != '\0' && !strchr(name, '/') && !strstr(name, "..") && strcmp(name, ".") != 0;
}

static tlm_status open_index(st_set *s, const char *dir, const char *index_path, tlm_error *err)
{
    st_map *f;
    tlm_status st = set_map(s, index_path, &f, err);
    if (st != TLM_OK) return st;
    if (f->size > ST_MAX_INDEX)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %" PRIu64 " bytes is too large for an index",
                        index_path, f->size);
    cJSON *root;
    st = parse_json(index_path, f->map, f->size, 0, &root, err);
    if (st != TLM_OK) return st;
    /* the index is only needed while it is parsed */
    tlm_unmap_file(&(tlm_mapped_file){(uint8_t *)f->map, f->size});
    f->map = NULL;

    const cJSON *map = NULL, *meta = NULL, *it;
    cJSON_ArrayForEach(it, root)
    {
        const cJSON **slot = strcmp(it->string, "weight_map") == 0 ? &map
                             : strcmp(it->string, "metadata") == 0 ? &meta
                                                                   : NULL;
        if (!slot) continue;
        if (*slot) {
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: duplicate key '%s'", index_path, it->string);
            break;
        }
        *slot = it;
    }
    uint64_t total_size = 0;
    bool have_total = false;
    if (st == TLM_OK && !cJSON_IsObject(map))
        st = tlm_fail(err, TLM_ERR_FORMAT, "%s: weight_map missing or not an object", index_path);
    if (st == TLM_OK && meta) {
        const cJSON *ts = NULL;
        if (!cJSON_IsObject(meta))
            st = tlm_fail(err, TLM_ERR_FORMAT, "%s: metadata is not an object", index_path);
        else if ((ts = cJSON_GetObjectItemCaseSensitive(meta, "total_size")) != NULL) {
            have_total = true;
            if (!json_u64(ts, &total_size))
                st = tlm_fail(err, TLM_ERR_FORMAT,
                              "%s: metadata.total_size is not a non-negative integer", index_path);
        }
    }

    uint64_t n = st == TLM_OK ? (uint64_t)cJSON_GetArraySize(map) : 0, i = 0;
    wanted *w = NULL;
    if (st == TLM_OK) {
        w = calloc(n ? (size_t)n : 1, sizeof *w);
        if (!w) st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", index_path);
    }
    if (st == TLM_OK) {
        cJSON_ArrayForEach(it, map)
        {
            if (!cJSON_IsString(it) || !shard_name_ok(it->valuestring)) {
                st = tlm_fail(err, TLM_ERR_FORMAT,
                              "%s: weight_map '%s': shard must be a plain file name string",
                              index_path, it->string);
                break;
            }
            w[i].name = it->string;
            w[i].shard = it->valuestring;
            i++;
        }
    }
    if (st == TLM_OK) {
        qsort(w, (size_t)n, sizeof *w, cmp_wanted_name);
        for (i = 1; i < n && st == TLM_OK; i++)
            if (strcmp(w[i - 1].name, w[i].name) == 0)
                st = tlm_fail(err, TLM_ERR_FORMAT, "%s: weight_map: duplicate tensor '%s'",
                              index_path, w[i].name);
    }
    uint64_t total = 0;
    if (st == TLM_OK) {
        qsort(w, (size_t)n, sizeof *w, cmp_wanted_shard);
        for (i = 0; i < n && st == TLM_OK;) {
            uint64_t j = i + 1;
            while (j < n && strcmp(w[j].shard, w[i].shard) == 0)
                j++;
            char *shard_path = join_path(dir, w[i].shard);
            if (!shard_path) {
                st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", index_path);
                break;
            }
            st = open_shard(s, index_path, shard_path, w + i, j - i, &total, err);
            free(shard_path);
            i = j;
        }
    }
    if (st == TLM_OK && have_total && total != total_size)
        st = tlm_fail(err, TLM_ERR_FORMAT,
                      "%s: metadata.total_size %" PRIu64 " but the listed tensors hold %" PRIu64
                      " bytes",
                      index_path, total_size, total);
    free(w);
    cJSON_Delete(root);
    return st;
}

tlm_status tlm_st_open(const char *path, st_set **out, tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_st_open: out is NULL");
    *out = NULL;
    if (!path) return tlm_fail(err, TLM_ERR_ARG, "tlm_st_open: path is NULL");
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));

    st_set *s = calloc(1, sizeof *s);
    if (!s) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", path);
    tlm_status st;
    if (S_ISDIR(sb.st_mode)) {
        char *index = join_path(path, "model.safetensors.index.json");
        char *single = join_path(path, "model.safetensors");
        struct stat ib;
        if (!index || !single)
            st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory", path);
        else if (stat(index, &ib) == 0)
            st = open_index(s, path, index, err);
        else if (stat(single, &ib) == 0)
            st = open_single(s, single, err);
        else
            st = tlm_fail(err, TLM_ERR_IO,
                          "%s: holds neither model.safetensors.index.json nor model.safetensors",
                          path);
        free(index);
        free(single);
    } else {
        st = open_single(s, path, err);
    }
    if (st != TLM_OK) {
        tlm_st_close(s);
        return st;
    }
    *out = s;
    return TLM_OK;
}

void tlm_st_close(st_set *s)
{
    if (!s) return;
    for (uint64_t i = 0; i < s->n_maps; i++) {
        tlm_unmap_file(&(tlm_mapped_file){(uint8_t *)s->maps[i].map, s->maps[i].size});
        free(s->maps[i].path);
    }
    for (uint64_t i = 0; i < s->n_copies; i++)
        free(s->copies[i]);
    free(s->maps);
    free(s->copies);
    free(s->tensors);
    free(s);
}

int64_t tlm_st_n_tensors(const st_set *s) { return s ? (int64_t)s->n_tensors : 0; }

const tlm_tensor *tlm_st_tensor(const st_set *s, int64_t i)
{
    if (!s || i < 0 || (uint64_t)i >= s->n_tensors) return NULL;
    return &s->tensors[i];
}

const tlm_tensor *tlm_st_find_tensor(const st_set *s, const char *name)
{
    if (!s || !name) return NULL;
    for (uint64_t i = 0; i < s->n_tensors; i++)
        if (strcmp(s->tensors[i].name, name) == 0) return &s->tensors[i];
    return NULL;
}
