/* test_gguf_write.c - lib/gguf_write.c: files written here are read back with lib/gguf_read.c
 * and compared field by field (every key type the writer offers, every value type through
 * tlm_gguf_writer_copy_kv, tensors of several types and ranks streamed in uneven chunks, a custom
 * alignment); then misuse (duplicates, bad shapes, missing or extra data, unwritable paths)
 * must fail with the right status, a message, and no file left behind. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_read.h"
#include "gguf_write.h"
#include "harness.h"

static char dir[256];

static const char *tmp(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", dir, name);
    return path[k];
}

static bool exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* No "<path>.tmp<pid>" left next to path. */
static bool no_temp_left(const char *path)
{
    char t[600];
    snprintf(t, sizeof t, "%s.tmp%ld", path, (long)getpid());
    return !exists(t);
}

static bool str_is(const gguf_kv *kv, const char *s)
{
    return kv && kv->type == GGUF_STRING && kv->v.str.len == strlen(s) &&
           memcmp(kv->v.str.ptr, s, strlen(s)) == 0;
}

/* ---- a file with every key type and a few tensors ---------------------------------------- */

typedef struct tspec {
    const char *name;
    tlm_type type;
    int n_dims;
    int64_t ne[4];
} tspec;

static const tspec tensors[] = {
    {"token_embd.weight", TLM_TYPE_F32, 2, {8, 5, 1, 1}},
    {"output_norm.weight", TLM_TYPE_F16, 1, {7, 1, 1, 1}}, /* 14 bytes: padded */
    {"blk.0.attn_q.weight", TLM_TYPE_Q8_0, 2, {64, 3, 1, 1}},
    {"blk.0.ffn_up.weight", TLM_TYPE_Q4_K, 2, {256, 2, 1, 1}},
    {"blk.0.odd", TLM_TYPE_BF16, 3, {3, 2, 2, 1}},
    {"blk.0.q6", TLM_TYPE_Q6_K, 2, {256, 1, 1, 1}},
};
#define N_TENSORS (sizeof tensors / sizeof tensors[0])

static uint8_t pattern(int t, uint64_t i) { return (uint8_t)(i * 31 + (uint64_t)t * 7 + 1); }

static void write_full(const char *path, uint32_t alignment)
{
    gguf_writer *w = NULL;
    tlm_error err = {0};
    CHECK(tlm_gguf_writer_open(path, &w, &err) == TLM_OK, "open: %s", err.message);
    if (!w) return;
    static const char *const strs[] = {"<unk>", "", "\xe2\x96\x81the", "a b"};
    static const float fs[] = {0.0f, -1.5f, 3.25e-7f};
    static const int32_t is[] = {1, -2, 2147483647, -2147483647 - 1};
    if (alignment) tlm_gguf_writer_set_u32(w, "general.alignment", alignment);
    tlm_gguf_writer_set_str(w, "general.architecture", "llama");
    tlm_gguf_writer_set_u32(w, "llama.block_count", 4000000000u);
    tlm_gguf_writer_set_i32(w, "test.i32", -123456);
    tlm_gguf_writer_set_f32(w, "test.f32", 1e-5f);
    tlm_gguf_writer_set_bool(w, "test.true", true);
    tlm_gguf_writer_set_bool(w, "test.false", false);
    tlm_gguf_writer_set_str(w, "test.empty", "");
    tlm_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 4);
    tlm_gguf_writer_set_arr_f32(w, "tokenizer.ggml.scores", fs, 3);
    tlm_gguf_writer_set_arr_i32(w, "tokenizer.ggml.token_type", is, 4);
    tlm_gguf_writer_set_arr_str(w, "test.no_strings", strs, 0);
    for (size_t t = 0; t < N_TENSORS; t++)
        tlm_gguf_writer_add_tensor(w, tensors[t].name, tensors[t].type, tensors[t].n_dims,
                                   tensors[t].ne);
    CHECK(tlm_gguf_writer_begin_data(w) == TLM_OK, "begin_data: %s", err.message);
    /* all data in one buffer, written in chunks of 1, 7, 13, ... bytes across tensors */
    uint64_t total = 0;
    for (size_t t = 0; t < N_TENSORS; t++)
        total += tlm_gguf_writer_tensor_bytes(w, (int64_t)t);
    uint8_t *all = malloc(total);
    for (size_t t = 0, at = 0; t < N_TENSORS; t++)
        for (uint64_t i = 0; i < tlm_gguf_writer_tensor_bytes(w, (int64_t)t); i++)
            all[at++] = pattern((int)t, i);
    for (uint64_t at = 0, step = 1; at < total; at += step, step = step * 2 + 5) {
        if (step > total - at) step = total - at;
        tlm_gguf_writer_write(w, all + at, step);
    }
    free(all);
    CHECK(tlm_gguf_writer_finish(w) == TLM_OK, "finish: %s", err.message);
}

static void test_round_trip(uint32_t alignment)
{
    const char *path = tmp(alignment ? "full-a64.gguf" : "full.gguf");
    write_full(path, alignment);
    CHECK(no_temp_left(path), "temporary file left behind");
    gguf_file *f = NULL;
    tlm_error err = {0};
    CHECK(tlm_gguf_open(path, &f, &err) == TLM_OK, "read back: %s", err.message);
    if (!f) return;
    uint64_t align = alignment ? alignment : 32;
    CHECK(f->version == 3 && f->alignment == align, "version %u alignment %" PRIu64, f->version,
          f->alignment);
    CHECK(f->n_kv == 11 + (alignment ? 1 : 0), "n_kv %" PRId64, f->n_kv);
    uint32_t u;
    float fl;
    bool b;
    CHECK(str_is(tlm_gguf_find(f, "general.architecture"), "llama"), "architecture");
    CHECK(tlm_gguf_get_u32(f, "llama.block_count", &u) && u == 4000000000u &&
              tlm_gguf_find(f, "llama.block_count")->type == GGUF_U32,
          "u32");
    const gguf_kv *kv = tlm_gguf_find(f, "test.i32");
    CHECK(kv && kv->type == GGUF_I32 && kv->v.i == -123456, "i32");
    CHECK(tlm_gguf_get_f32(f, "test.f32", &fl) && fl == 1e-5f &&
              tlm_gguf_find(f, "test.f32")->type == GGUF_F32,
          "f32");
    CHECK(tlm_gguf_get_bool(f, "test.true", &b) && b && tlm_gguf_get_bool(f, "test.false", &b) &&
              !b,
          "bool");
    CHECK(str_is(tlm_gguf_find(f, "test.empty"), ""), "empty string");
    kv = tlm_gguf_find(f, "tokenizer.ggml.tokens");
    bool ok = kv && kv->type == GGUF_ARRAY && kv->v.arr.type == GGUF_STRING && kv->v.arr.n == 4;
    static const char *const strs[] = {"<unk>", "", "\xe2\x96\x81the", "a b"};
    for (uint64_t i = 0; ok && i < 4; i++) {
        uint64_t len;
        const char *s = tlm_gguf_arr_str(kv, i, &len);
        ok = len == strlen(strs[i]) && memcmp(s, strs[i], len) == 0;
    }
    CHECK(ok, "string array");
    kv = tlm_gguf_find(f, "tokenizer.ggml.scores");
    ok = kv && kv->type == GGUF_ARRAY && kv->v.arr.type == GGUF_F32 && kv->v.arr.n == 3;
    static const float fs[] = {0.0f, -1.5f, 3.25e-7f};
    for (uint64_t i = 0; ok && i < 3; i++)
        ok = memcmp(kv->v.arr.data + 4 * i, &fs[i], 4) == 0;
    CHECK(ok, "f32 array");
    kv = tlm_gguf_find(f, "tokenizer.ggml.token_type");
    ok = kv && kv->type == GGUF_ARRAY && kv->v.arr.type == GGUF_I32 && kv->v.arr.n == 4;
    static const int32_t is[] = {1, -2, 2147483647, -2147483647 - 1};
    for (uint64_t i = 0; ok && i < 4; i++)
        ok = memcmp(kv->v.arr.data + 4 * i, &is[i], 4) == 0;
    CHECK(ok, "i32 array");
    kv = tlm_gguf_find(f, "test.no_strings");
    CHECK(kv && kv->type == GGUF_ARRAY && kv->v.arr.n == 0, "empty array");

    CHECK(f->n_tensors == (int64_t)N_TENSORS, "n_tensors %" PRId64, f->n_tensors);
    CHECK(f->data_offset % align == 0, "data section at %" PRIu64 " not aligned", f->data_offset);
    for (size_t t = 0; t < N_TENSORS && t < (size_t)f->n_tensors; t++) {
        const tlm_tensor *x = tlm_gguf_find_tensor(f, tensors[t].name);
        if (!x) {
            CHECK(false, "tensor %s missing", tensors[t].name);
            continue;
        }
        ok = x->type == tensors[t].type && x->n_dims == tensors[t].n_dims;
        for (int d = 0; d < 4; d++)
            ok = ok && x->ne[d] == tensors[t].ne[d];
        CHECK(ok, "tensor %s: type or shape", x->name);
        CHECK((uint64_t)((const uint8_t *)x->data - f->map) % align == 0,
              "tensor %s data not aligned", x->name);
        ok = true;
        for (uint64_t i = 0; i < x->nbytes && ok; i++)
            ok = ((const uint8_t *)x->data)[i] == pattern((int)t, i);
        CHECK(ok, "tensor %s: data differs", x->name);
    }
    CHECK(&f->tensors[0] == tlm_gguf_find_tensor(f, tensors[0].name), "tensors keep their order");
    tlm_gguf_close(f);
}

/* ---- every value type through tlm_gguf_writer_copy_kv --------------------------------------- */

typedef struct buf {
    uint8_t p[4096];
    size_t n;
} buf;

static void put(buf *b, const void *s, size_t n)
{
    memcpy(b->p + b->n, s, n);
    b->n += n;
}
static void put_le(buf *b, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        b->p[b->n++] = (uint8_t)(v >> (8 * i));
}
static void put_str(buf *b, const char *s)
{
    put_le(b, strlen(s), 8);
    put(b, s, strlen(s));
}
static void put_key(buf *b, const char *k, gguf_vtype t)
{
    put_str(b, k);
    put_le(b, (uint64_t)t, 4);
}

/* A hand-built GGUF with one key of every scalar type and arrays of several element types. */
static void write_all_types(const char *path)
{
    buf b = {.n = 0};
    put(&b, "GGUF", 4);
    put_le(&b, 3, 4);
    put_le(&b, 0, 8);  /* tensors */
    put_le(&b, 17, 8); /* keys */
    put_key(&b, "t.u8", GGUF_U8), put_le(&b, 200, 1);
    put_key(&b, "t.i8", GGUF_I8), put_le(&b, (uint8_t)-100, 1);
    put_key(&b, "t.u16", GGUF_U16), put_le(&b, 60000, 2);
    put_key(&b, "t.i16", GGUF_I16), put_le(&b, (uint16_t)-30000, 2);
    put_key(&b, "t.u32", GGUF_U32), put_le(&b, 4000000000u, 4);
    put_key(&b, "t.i32", GGUF_I32), put_le(&b, (uint32_t)-2000000000, 4);
    float f = -2.5f;
    uint32_t fu;
    memcpy(&fu, &f, 4);
    put_key(&b, "t.f32", GGUF_F32), put_le(&b, fu, 4);
    put_key(&b, "t.bool", GGUF_BOOL), put_le(&b, 1, 1);
    put_key(&b, "t.str", GGUF_STRING), put_str(&b, "h\xc3\xa9llo");
    put_key(&b, "t.u64", GGUF_U64), put_le(&b, 18000000000000000000ull, 8);
    put_key(&b, "t.i64", GGUF_I64), put_le(&b, (uint64_t)-9000000000000000000ll, 8);
    double d = 1.0 / 3.0;
    uint64_t du;
    memcpy(&du, &d, 8);
    put_key(&b, "t.f64", GGUF_F64), put_le(&b, du, 8);
    put_key(&b, "a.u8", GGUF_ARRAY), put_le(&b, GGUF_U8, 4), put_le(&b, 3, 8);
    put(&b, "\x01\x02\xff", 3);
    put_key(&b, "a.i16", GGUF_ARRAY), put_le(&b, GGUF_I16, 4), put_le(&b, 2, 8);
    put_le(&b, (uint16_t)-5, 2), put_le(&b, 7, 2);
    put_key(&b, "a.f64", GGUF_ARRAY), put_le(&b, GGUF_F64, 4), put_le(&b, 1, 8);
    put_le(&b, du, 8);
    put_key(&b, "a.bool", GGUF_ARRAY), put_le(&b, GGUF_BOOL, 4), put_le(&b, 2, 8);
    put(&b, "\x00\x01", 2);
    put_key(&b, "a.str", GGUF_ARRAY), put_le(&b, GGUF_STRING, 4), put_le(&b, 3, 8);
    put_str(&b, "x"), put_str(&b, ""), put_str(&b, "yz");
    FILE *fp = fopen(path, "wb");
    fwrite(b.p, 1, b.n, fp);
    fclose(fp);
}

/* The bytes of a key-value as the reader sees them (scalar value or raw array elements). */
static bool same_kv(const gguf_kv *a, const gguf_kv *b)
{
    if (!a || !b || strcmp(a->key, b->key) != 0 || a->type != b->type) return false;
    switch (a->type) {
    case GGUF_STRING:
        return a->v.str.len == b->v.str.len &&
               memcmp(a->v.str.ptr, b->v.str.ptr, a->v.str.len) == 0;
    case GGUF_ARRAY:
        if (a->v.arr.type != b->v.arr.type || a->v.arr.n != b->v.arr.n) return false;
        for (uint64_t i = 0; i < a->v.arr.n; i++) {
            if (a->v.arr.type == GGUF_STRING) {
                uint64_t la, lb;
                const char *sa = tlm_gguf_arr_str(a, i, &la), *sb = tlm_gguf_arr_str(b, i, &lb);
                if (la != lb || memcmp(sa, sb, la) != 0) return false;
            }
        }
        if (a->v.arr.type != GGUF_STRING) {
            uint64_t size = a->v.arr.type == GGUF_F64 ? 8 : a->v.arr.type == GGUF_I16 ? 2 : 1;
            return memcmp(a->v.arr.data, b->v.arr.data, size * a->v.arr.n) == 0;
        }
        return true;
    case GGUF_F32:
    case GGUF_F64:
        return memcmp(&a->v.f, &b->v.f, sizeof a->v.f) == 0;
    case GGUF_I8:
    case GGUF_I16:
    case GGUF_I32:
    case GGUF_I64:
        return a->v.i == b->v.i;
    default:
        return a->v.u == b->v.u;
    }
}

static void test_copy_kv(void)
{
    const char *src_path = tmp("all-types.gguf"), *dst_path = tmp("copied.gguf");
    write_all_types(src_path);
    gguf_file *src = NULL, *dst = NULL;
    tlm_error err = {0};
    CHECK(tlm_gguf_open(src_path, &src, &err) == TLM_OK, "hand-built file: %s", err.message);
    if (!src) return;
    gguf_writer *w = NULL;
    CHECK(tlm_gguf_writer_open(dst_path, &w, &err) == TLM_OK, "open: %s", err.message);
    for (int64_t i = 0; w && i < src->n_kv; i++)
        tlm_gguf_writer_copy_kv(w, &src->kv[i]);
    CHECK(w && tlm_gguf_writer_finish(w) == TLM_OK, "finish: %s", err.message);
    CHECK(tlm_gguf_open(dst_path, &dst, &err) == TLM_OK, "copy: %s", err.message);
    if (dst) {
        CHECK(dst->n_kv == src->n_kv, "n_kv %" PRId64 " vs %" PRId64, dst->n_kv, src->n_kv);
        for (int64_t i = 0; i < src->n_kv && i < dst->n_kv; i++)
            CHECK(same_kv(&src->kv[i], &dst->kv[i]), "key %s differs after copy", src->kv[i].key);
    }
    tlm_gguf_close(src);
    tlm_gguf_close(dst);

    /* the real stories260K tokenizer: string, f32 and i32 arrays of 512 */
    const char *shared = getenv("TLM_SHARED");
    char real[512];
    snprintf(real, sizeof real, "%s/models/stories260K.gguf", shared ? shared : "../shared");
    if (tlm_gguf_open(real, &src, &err) != TLM_OK) {
        CHECK(false, "cannot read %s: %s", real, err.message);
        return;
    }
    CHECK(tlm_gguf_writer_open(dst_path, &w, &err) == TLM_OK, "open: %s", err.message);
    for (int64_t i = 0; w && i < src->n_kv; i++)
        tlm_gguf_writer_copy_kv(w, &src->kv[i]);
    CHECK(w && tlm_gguf_writer_finish(w) == TLM_OK, "finish: %s", err.message);
    CHECK(tlm_gguf_open(dst_path, &dst, &err) == TLM_OK, "copy of stories260K keys: %s",
          err.message);
    bool ok = dst && dst->n_kv == src->n_kv;
    for (int64_t i = 0; ok && i < src->n_kv; i++) {
        const gguf_kv *a = &src->kv[i], *b = &dst->kv[i];
        ok = strcmp(a->key, b->key) == 0 && a->type == b->type;
        if (ok && a->type == GGUF_ARRAY && a->v.arr.type != GGUF_STRING)
            ok = a->v.arr.n == b->v.arr.n &&
                 memcmp(a->v.arr.data, b->v.arr.data, 4 * a->v.arr.n) == 0;
        else if (ok)
            ok = same_kv(a, b);
    }
    CHECK(ok, "stories260K keys differ after copy");
    tlm_gguf_close(src);
    tlm_gguf_close(dst);
}

/* ---- misuse ------------------------------------------------------------------------------ */

static gguf_writer *fresh(const char *path, tlm_error *err)
{
    gguf_writer *w = NULL;
    if (tlm_gguf_writer_open(path, &w, err) != TLM_OK)
        CHECK(false, "open %s: %s", path, err->message);
    return w;
}

static void test_misuse(void)
{
    tlm_error err = {0};
    const char *path = tmp("bad.gguf");
    static const int64_t ne2[2] = {32, 2};

    gguf_writer *w = fresh(path, &err);
    tlm_gguf_writer_set_u32(w, "k", 1);
    CHECK(tlm_gguf_writer_set_f32(w, "k", 1.0f) == TLM_ERR_ARG &&
              strstr(err.message, "duplicate key"),
          "duplicate key: %s", err.message);
    CHECK(tlm_gguf_writer_set_u32(w, "other", 2) == TLM_ERR_ARG, "errors are sticky");
    CHECK(tlm_gguf_writer_finish(w) == TLM_ERR_ARG && !exists(path) && no_temp_left(path),
          "a failed writer leaves no file");

    w = fresh(path, &err);
    tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2);
    CHECK(tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2) == TLM_ERR_ARG,
          "duplicate tensor: %s", err.message);
    tlm_gguf_writer_discard(w);
    CHECK(!exists(path) && no_temp_left(path), "discard leaves no file");

    static const int64_t ne_odd[2] = {33, 1}, ne_zero[2] = {32, 0};
    w = fresh(path, &err);
    CHECK(tlm_gguf_writer_add_tensor(w, "q", TLM_TYPE_Q8_0, 2, ne_odd) == TLM_ERR_ARG &&
              strstr(err.message, "blocks"),
          "row not whole blocks: %s", err.message);
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    CHECK(tlm_gguf_writer_add_tensor(w, "z", TLM_TYPE_F32, 2, ne_zero) == TLM_ERR_ARG, "zero dim");
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    CHECK(tlm_gguf_writer_add_tensor(w, "f", TLM_TYPE_F32, 5, ne2) == TLM_ERR_ARG, "5 dims");
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    CHECK(tlm_gguf_writer_add_tensor(w, "f", (tlm_type)16, 2, ne2) == TLM_ERR_ARG, "unknown type");
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    char long_name[80];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    CHECK(tlm_gguf_writer_add_tensor(w, long_name, TLM_TYPE_F32, 2, ne2) == TLM_ERR_ARG,
          "name over 63 bytes");
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    CHECK(tlm_gguf_writer_set_u32(w, "general.alignment", 48) == TLM_ERR_ARG, "alignment 48");
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2);
    CHECK(tlm_gguf_writer_set_u32(w, "general.alignment", 64) == TLM_ERR_ARG,
          "alignment after tensors");
    tlm_gguf_writer_discard(w);

    /* short and long data */
    float data[65] = {0};
    w = fresh(path, &err);
    tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2);
    tlm_gguf_writer_begin_data(w);
    tlm_gguf_writer_write(w, data, 63 * sizeof(float));
    CHECK(tlm_gguf_writer_set_u32(w, "late", 1) == TLM_ERR_ARG, "key after begin_data");
    tlm_gguf_writer_discard(w);
    w = fresh(path, &err);
    tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2);
    tlm_gguf_writer_begin_data(w);
    tlm_gguf_writer_write(w, data, 63 * sizeof(float));
    CHECK(tlm_gguf_writer_finish(w) == TLM_ERR_ARG && strstr(err.message, "252 of its 256") &&
              !exists(path) && no_temp_left(path),
          "missing data: %s", err.message);
    w = fresh(path, &err);
    tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2);
    tlm_gguf_writer_begin_data(w);
    CHECK(tlm_gguf_writer_write(w, data, 65 * sizeof(float)) == TLM_ERR_ARG, "too much data: %s",
          err.message);
    tlm_gguf_writer_discard(w);

    /* an unwritable place: the message names the path */
    gguf_writer *none = (gguf_writer *)1;
    CHECK(tlm_gguf_writer_open("/nonexistent-dir/x.gguf", &none, &err) == TLM_ERR_IO && !none &&
              strstr(err.message, "/nonexistent-dir/x.gguf"),
          "unwritable path: %s", err.message);
    CHECK(tlm_gguf_writer_open(NULL, &none, &err) == TLM_ERR_ARG, "NULL path");

    /* an existing file is replaced only when the new one is complete */
    write_full(path, 0);
    w = fresh(path, &err);
    tlm_gguf_writer_add_tensor(w, "t", TLM_TYPE_F32, 2, ne2);
    tlm_gguf_writer_finish(w);
    gguf_file *f = NULL;
    CHECK(tlm_gguf_open(path, &f, &err) == TLM_OK && f->n_tensors == (int64_t)N_TENSORS,
          "a failed write replaced the old file");
    tlm_gguf_close(f);
    remove(path);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_gguf_write.%ld", (long)getpid());
    mkdir(dir, 0700);
    test_round_trip(0);
    test_round_trip(64);
    test_copy_kv();
    test_misuse();
    remove(tmp("full.gguf"));
    remove(tmp("full-a64.gguf"));
    remove(tmp("all-types.gguf"));
    remove(tmp("copied.gguf"));
    rmdir(dir);
    return finish("gguf_write");
}
