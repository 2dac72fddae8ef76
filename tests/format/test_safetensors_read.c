/* test_safetensors_read.c - lib/safetensors_read.c: single files and sharded directories built
 * here are read back; then malformed headers, buffers and index files must fail with the right
 * status and a message naming the file. */
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "safetensors_read.h"

static char tmpdir[64];

static void die(const char *what)
{
    printf("test_safetensors_read: cannot %s\n", what);
    exit(2);
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) die("write a file");
}

static uint8_t buf_byte(uint64_t i) { return (uint8_t)(i * 13 + 5); }

/* Builds a safetensors image: N (little-endian), the JSON header padded with spaces to `pad`
 * bytes (if larger), then buf_len bytes of buf_byte(i). *n receives the size. */
static uint8_t *make_st(const char *json, size_t pad, size_t buf_len, size_t *n)
{
    size_t hlen = strlen(json);
    if (pad < hlen) pad = hlen;
    *n = 8 + pad + buf_len;
    uint8_t *p = malloc(*n ? *n : 1);
    if (!p) die("allocate");
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)pad >> (8 * i));
    memcpy(p + 8, json, hlen);
    memset(p + 8 + hlen, ' ', pad - hlen);
    for (size_t i = 0; i < buf_len; i++)
        p[8 + pad + i] = buf_byte(i);
    return p;
}

static const char *tmp_path(const char *name)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return path;
}

static const char *write_st(const char *name, const char *json, size_t pad, size_t buf_len)
{
    size_t n;
    uint8_t *p = make_st(json, pad, buf_len, &n);
    const char *path = tmp_path(name);
    write_bytes(path, p, n);
    free(p);
    return path;
}

/* Opens path and checks the status; a failure must leave *out NULL and give a message naming
 * `names` (the file, or another path given) and containing needle when given. */
static void expect_open(int line, const char *what, const char *path, tlm_status want,
                        const char *names, const char *needle)
{
    st_set *s = (st_set *)(uintptr_t)1;
    tlm_error err;
    memset(&err, 0, sizeof err);
    tlm_status st = tlm_st_open(path, &s, &err);
    if (getenv("TLM_TEST_VERBOSE")) printf("  %s -> %d: %s\n", what, (int)st, err.message);
    if (want == TLM_OK) {
        check_at(__FILE__, line, st == TLM_OK && s != NULL, "%s: status %d (%s), want OK", what,
                 (int)st, err.message);
    } else {
        bool ok = st == want && s == NULL && err.status == st && err.message[0] != '\0' &&
                  strstr(err.message, names ? names : path) != NULL &&
                  (!needle || strstr(err.message, needle) != NULL);
        check_at(__FILE__, line, ok, "%s: status %d want %d, message '%s'", what, (int)st,
                 (int)want, err.message);
    }
    if (st == TLM_OK) tlm_st_close(s);
}

/* A one-file case: header JSON (unpadded) and a buffer of buf_len bytes. */
#define HDR(what, json, buf_len, want)                                                             \
    expect_open(__LINE__, what, write_st("case.safetensors", json, 0, buf_len), want, NULL, NULL)
#define HDR_MSG(what, json, buf_len, want, needle)                                                 \
    expect_open(__LINE__, what, write_st("case.safetensors", json, 0, buf_len), want, NULL, needle)

/* Two tensors, 16 bytes: the base the header cases vary. */
#define T_A(offs) "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":" offs "}"
#define T_B(offs) "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":" offs "}"

/* A file with one F32 tensor whose name is n bytes long. */
static const char *write_named(size_t n)
{
    char json[512];
    char name[256];
    memset(name, 'n', n);
    name[n] = '\0';
    snprintf(json, sizeof json, "{\"%s\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
             name);
    return write_st("named.safetensors", json, 0, 4);
}

/* ---- the reference single file ---------------------------------------------------------- */

/* Tensors laid out so some views are misaligned (and must be copied) and some are not. */
static const char ref_json[] =
    "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"test\"},"
    "\"u8\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]},"
    "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[3,27]},"
    "\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[27,37]},"
    "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,1,2,2],\"data_offsets\":[37,53]},"
    "\"i64\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[53,69]},"
    "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[69,73]},"
    "\"z\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[73,73]},"
    "\"pad\":{\"dtype\":\"I8\",\"shape\":[3],\"data_offsets\":[73,76],\"extra\":1},"
    "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[76,92]},"
    "\"f4\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[92,94]},"
    "\"e5\":{\"dtype\":\"F8_E5M2\",\"shape\":[1,1,1,1,1,2],\"data_offsets\":[94,96]}}";
#define REF_BUF 96

static const struct {
    const char *name;
    tlm_type type;
    int32_t n_dims;
    int64_t ne[4];
    uint64_t begin, end;
} ref_listed[] = {
    {"w", TLM_TYPE_F32, 2, {3, 2, 1, 1}, 3, 27},   {"h", TLM_TYPE_F16, 1, {5, 1, 1, 1}, 27, 37},
    {"b", TLM_TYPE_BF16, 4, {2, 2, 1, 2}, 37, 53}, {"s", TLM_TYPE_F32, 0, {1, 1, 1, 1}, 69, 73},
    {"z", TLM_TYPE_F32, 2, {4, 0, 1, 1}, 73, 73},  {"a", TLM_TYPE_F32, 1, {4, 1, 1, 1}, 76, 92},
};
#define N_REF_LISTED (sizeof ref_listed / sizeof ref_listed[0])

static int elem_size(tlm_type t) { return t == TLM_TYPE_F32 ? 4 : 2; }

static void check_reference(const char *path)
{
    st_set *s = NULL;
    tlm_error err = {0};
    tlm_status st = tlm_st_open(path, &s, &err);
    CHECK(st == TLM_OK, "open reference: %s", err.message);
    if (st != TLM_OK) return;
    CHECK(tlm_st_n_tensors(s) == (int64_t)N_REF_LISTED, "listed %" PRId64, tlm_st_n_tensors(s));
    for (size_t i = 0; i < N_REF_LISTED; i++) {
        const tlm_tensor *t = tlm_st_find_tensor(s, ref_listed[i].name);
        CHECK(t && t == tlm_st_tensor(s, (int64_t)i), "tensor %s found in JSON order",
              ref_listed[i].name);
        if (!t) continue;
        uint64_t nbytes = ref_listed[i].end - ref_listed[i].begin;
        bool ok = t->type == ref_listed[i].type && t->n_dims == ref_listed[i].n_dims &&
                  t->nbytes == nbytes && strcmp(t->name, ref_listed[i].name) == 0;
        for (int d = 0; d < 4; d++)
            ok = ok && t->ne[d] == ref_listed[i].ne[d];
        CHECK(ok, "tensor %s fields", t->name);
        CHECK(nbytes == 0 || (uintptr_t)t->data % (uintptr_t)elem_size(t->type) == 0,
              "tensor %s aligned", t->name);
        ok = t->data != NULL;
        for (uint64_t k = 0; ok && k < nbytes; k++)
            ok = ((const uint8_t *)t->data)[k] == buf_byte(ref_listed[i].begin + k);
        CHECK(ok, "tensor %s data", t->name);
    }
    const tlm_tensor *sc = tlm_st_find_tensor(s, "s");
    CHECK(sc && tlm_tensor_nelem(sc) == 1, "scalar has one element");
    CHECK(tlm_st_find_tensor(s, "u8") == NULL && tlm_st_find_tensor(s, "i64") == NULL &&
              tlm_st_find_tensor(s, "f4") == NULL && tlm_st_find_tensor(s, "e5") == NULL &&
              tlm_st_find_tensor(s, "__metadata__") == NULL,
          "other dtypes are not listed");
    CHECK(tlm_st_tensor(s, -1) == NULL && tlm_st_tensor(s, (int64_t)N_REF_LISTED) == NULL,
          "index out of range");
    tlm_st_close(s);
}

/* An aligned file: views must point straight into one mapping (no copies). */
static void check_aligned(void)
{
    const char *json = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},"
                       "\"y\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[16,24]}}";
    const char *path = write_st("aligned.safetensors", json, (strlen(json) + 7) / 8 * 8, 24);
    st_set *s = NULL;
    tlm_error err = {0};
    CHECK(tlm_st_open(path, &s, &err) == TLM_OK, "aligned: %s", err.message);
    if (!s) return;
    const tlm_tensor *x = tlm_st_find_tensor(s, "x"), *y = tlm_st_find_tensor(s, "y");
    CHECK(x && y && (const uint8_t *)y->data - (const uint8_t *)x->data == 16 &&
              (uintptr_t)x->data % 8 == 0,
          "aligned views point into the mapping");
    CHECK(x && x->ne[0] == 2 && x->ne[1] == 2 && x->n_dims == 2, "aligned x shape");
    tlm_st_close(s);
}

/* ---- sharded directories ---------------------------------------------------------------- */

static int case_no;

/* Makes a fresh directory for one case and returns its path (static storage). */
static const char *new_dir(void)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%s/case%d", tmpdir, case_no++);
    if (mkdir(dir, 0700) != 0) die("mkdir");
    return dir;
}

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_bytes(path, text, strlen(text));
}

static void put_st(const char *dir, const char *name, const char *json, size_t buf_len)
{
    size_t n;
    uint8_t *p = make_st(json, (strlen(json) + 7) / 8 * 8, buf_len, &n);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    write_bytes(path, p, n);
    free(p);
}

#define SHARD1 "model-00001-of-00002.safetensors"
#define SHARD2 "model-00002-of-00002.safetensors"
static const char shard1_json[] =
    "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
    "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[8,16]},"
    "\"extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[16,20]}}";
static const char shard2_json[] =
    "{\"c\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
    "\"d\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[8,16]}}";

/* A directory with both shards and the given index text. */
static const char *sharded_dir(const char *index)
{
    const char *dir = new_dir();
    put_st(dir, SHARD1, shard1_json, 20);
    put_st(dir, SHARD2, shard2_json, 16);
    if (index) put_file(dir, "model.safetensors.index.json", index);
    return dir;
}

#define MAP_OK                                                                                     \
    "\"weight_map\":{\"a\":\"" SHARD1 "\",\"b\":\"" SHARD1 "\",\"c\":\"" SHARD2                    \
    "\",\"d\":\"" SHARD2 "\"}"

static void index_case(int line, const char *what, const char *index, tlm_status want,
                       const char *needle)
{
    const char *dir = sharded_dir(index);
    char names[512];
    snprintf(names, sizeof names, "%s/", dir);
    expect_open(line, what, dir, want, names, needle);
}
#define INDEX(what, index, want) index_case(__LINE__, what, index, want, NULL)
#define INDEX_MSG(what, index, want, needle) index_case(__LINE__, what, index, want, needle)

static void check_sharded(void)
{
    const char *dir = sharded_dir("{\"metadata\":{\"total_size\":32}," MAP_OK "}\n");
    st_set *s = NULL;
    tlm_error err = {0};
    CHECK(tlm_st_open(dir, &s, &err) == TLM_OK, "sharded: %s", err.message);
    if (s) {
        CHECK(tlm_st_n_tensors(s) == 3, "sharded: 3 listed, got %" PRId64, tlm_st_n_tensors(s));
        const tlm_tensor *a = tlm_st_find_tensor(s, "a"), *b = tlm_st_find_tensor(s, "b"),
                         *c = tlm_st_find_tensor(s, "c");
        CHECK(a && a->type == TLM_TYPE_F32 && a->ne[0] == 2 && a->nbytes == 8 &&
                  ((const uint8_t *)a->data)[0] == buf_byte(0),
              "sharded a");
        CHECK(b && b->type == TLM_TYPE_F16 && b->ne[0] == 4 &&
                  ((const uint8_t *)b->data)[0] == buf_byte(8),
              "sharded b");
        CHECK(c && c->type == TLM_TYPE_BF16 && c->ne[0] == 2 && c->ne[1] == 2 && c->n_dims == 2 &&
                  ((const uint8_t *)c->data)[7] == buf_byte(7),
              "sharded c");
        CHECK(!tlm_st_find_tensor(s, "extra") && !tlm_st_find_tensor(s, "d"),
              "sharded: unmapped/int");
        tlm_st_close(s);
    }
    INDEX("no metadata", "{" MAP_OK "}", TLM_OK);
    INDEX("metadata without total_size", "{\"metadata\":{\"format\":\"pt\"}," MAP_OK "}", TLM_OK);
    INDEX("empty weight_map", "{\"weight_map\":{}}", TLM_OK);

    /* a directory holding one model.safetensors */
    dir = new_dir();
    put_st(dir, "model.safetensors", shard1_json, 20);
    s = NULL;
    CHECK(tlm_st_open(dir, &s, &err) == TLM_OK && tlm_st_n_tensors(s) == 3,
          "dir with model.safetensors");
    tlm_st_close(s);

    dir = new_dir();
    expect_open(__LINE__, "empty directory", dir, TLM_ERR_IO, NULL, NULL);

    INDEX_MSG("index invalid JSON", "{\"weight_map\":{", TLM_ERR_FORMAT, "JSON");
    INDEX("index empty", "", TLM_ERR_FORMAT);
    INDEX("index not an object", "[1,2]", TLM_ERR_FORMAT);
    INDEX("index trailing garbage", "{" MAP_OK "} x", TLM_ERR_FORMAT);
    INDEX_MSG("weight_map missing", "{\"metadata\":{}}", TLM_ERR_FORMAT, "weight_map");
    INDEX("weight_map an array", "{\"weight_map\":[1]}", TLM_ERR_FORMAT);
    INDEX("two weight_maps", "{" MAP_OK "," MAP_OK "}", TLM_ERR_FORMAT);
    INDEX("shard not a string", "{\"weight_map\":{\"a\":1}}", TLM_ERR_FORMAT);
    INDEX_MSG("shard ../", "{\"weight_map\":{\"a\":\"../" SHARD1 "\"}}", TLM_ERR_FORMAT, "'a'");
    INDEX("shard in subdir", "{\"weight_map\":{\"a\":\"sub/" SHARD1 "\"}}", TLM_ERR_FORMAT);
    INDEX("shard absolute", "{\"weight_map\":{\"a\":\"/etc/passwd\"}}", TLM_ERR_FORMAT);
    INDEX("shard ..", "{\"weight_map\":{\"a\":\"..\"}}", TLM_ERR_FORMAT);
    INDEX("shard empty name", "{\"weight_map\":{\"a\":\"\"}}", TLM_ERR_FORMAT);
    INDEX("shard .", "{\"weight_map\":{\"a\":\".\"}}", TLM_ERR_FORMAT);
    INDEX_MSG("missing shard", "{\"weight_map\":{\"a\":\"model-00009.safetensors\"}}", TLM_ERR_IO,
              "model-00009");
    INDEX_MSG("tensor missing in shard",
              "{\"weight_map\":{\"a\":\"" SHARD1 "\",\"q\":\"" SHARD1 "\"}}", TLM_ERR_FORMAT,
              "'q'");
    INDEX("tensor in the other shard", "{\"weight_map\":{\"c\":\"" SHARD1 "\"}}", TLM_ERR_FORMAT);
    INDEX("duplicate weight_map key",
          "{\"weight_map\":{\"a\":\"" SHARD1 "\",\"a\":\"" SHARD1 "\"}}", TLM_ERR_FORMAT);
    INDEX_MSG("total_size mismatch", "{\"metadata\":{\"total_size\":33}," MAP_OK "}",
              TLM_ERR_FORMAT, "total_size");
    INDEX("total_size a string", "{\"metadata\":{\"total_size\":\"32\"}," MAP_OK "}",
          TLM_ERR_FORMAT);
    INDEX("total_size negative", "{\"metadata\":{\"total_size\":-32}," MAP_OK "}", TLM_ERR_FORMAT);
    INDEX("metadata not an object", "{\"metadata\":5," MAP_OK "}", TLM_ERR_FORMAT);

    /* a malformed shard */
    dir = new_dir();
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s.safetensors\"}}");
    put_st(dir, "s.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
           7);
    expect_open(__LINE__, "truncated shard", dir, TLM_ERR_FORMAT, "s.safetensors", NULL);
    /* a shard that is a directory */
    dir = new_dir();
    put_file(dir, "model.safetensors.index.json", "{\"weight_map\":{\"a\":\"s.safetensors\"}}");
    char sub[512];
    snprintf(sub, sizeof sub, "%s/s.safetensors", dir);
    if (mkdir(sub, 0700) != 0) die("mkdir");
    expect_open(__LINE__, "shard is a directory", dir, TLM_ERR_IO, "s.safetensors", NULL);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tlm_st_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("test_safetensors_read: 0 passed, 1 failed (mkdtemp)\n");
        return 1;
    }

    /* well-formed single files */
    check_reference(write_st("ref.safetensors", ref_json, 0, REF_BUF));
    check_reference(write_st("ref8.safetensors", ref_json, (sizeof ref_json + 7) / 8 * 8, REF_BUF));
    check_aligned();
    HDR("empty object, no buffer", "{}", 0, TLM_OK);
    HDR("trailing whitespace", "{}  \n\t ", 0, TLM_OK);
    HDR("only metadata", "{\"__metadata__\":{}}", 0, TLM_OK);
    expect_open(__LINE__, "name 127 bytes", write_named(127), TLM_OK, NULL, NULL);
    HDR("5-d integer tensor skipped",
        "{\"i\":{\"dtype\":\"I8\",\"shape\":[1,1,1,1,2],\"data_offsets\":[0,2]}}", 2, TLM_OK);
    HDR("zero-size tensors share an offset",
        "{\"p\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]},"
        "\"q\":{\"dtype\":\"F16\",\"shape\":[0,3],\"data_offsets\":[0,0]}," T_A("[0,8]") "}",
        8, TLM_OK);
    HDR("base", "{" T_A("[0,8]") "," T_B("[8,16]") "}", 16, TLM_OK);

    /* the file itself */
    expect_open(__LINE__, "missing file", "/nonexistent/m.safetensors", TLM_ERR_IO, NULL, NULL);
    write_bytes(tmp_path("empty.safetensors"), "", 0);
    expect_open(__LINE__, "empty file", tmp_path("empty.safetensors"), TLM_ERR_FORMAT, NULL, NULL);
    write_bytes(tmp_path("tiny.safetensors"), "\x02\0\0\0\0", 5);
    expect_open(__LINE__, "5-byte file", tmp_path("tiny.safetensors"), TLM_ERR_FORMAT, NULL, NULL);
    {
        uint8_t raw[64] = {0};
        const struct {
            const char *what;
            uint64_t n;
        } lens[] = {
            {"N = 1e8 + 1", 100000001u},
            {"N = 2^64 - 1", UINT64_MAX},
            {"N past end", 57},
            {"N = 0", 0},
            {"N = 1", 1},
            {"N = 2^63", (uint64_t)1 << 63},
        };
        memcpy(raw + 8, "{}", 2);
        memset(raw + 10, ' ', sizeof raw - 10);
        for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
            for (int k = 0; k < 8; k++)
                raw[k] = (uint8_t)(lens[i].n >> (8 * k));
            write_bytes(tmp_path("n.safetensors"), raw, sizeof raw);
            expect_open(__LINE__, lens[i].what, tmp_path("n.safetensors"), TLM_ERR_FORMAT, NULL,
                        NULL);
        }
    }

    /* JSON shape */
    HDR("not an object", "[1,2]", 0, TLM_ERR_FORMAT);
    HDR("leading space", " {}", 0, TLM_ERR_FORMAT);
    HDR_MSG("invalid JSON", "{\"a\":", 0, TLM_ERR_FORMAT, "JSON");
    HDR("invalid JSON 2", "{\"a\":{\"dtype\":F32}}", 0, TLM_ERR_FORMAT);
    HDR("trailing garbage", "{} x", 0, TLM_ERR_FORMAT);
    HDR("two objects", "{}{}", 0, TLM_ERR_FORMAT);
    {
        static const uint8_t raw[] = {5, 0, 0, 0, 0, 0, 0, 0, '{', '}', 0, ' ', ' '};
        write_bytes(tmp_path("nul.safetensors"), raw, sizeof raw);
        expect_open(__LINE__, "NUL after JSON", tmp_path("nul.safetensors"), TLM_ERR_FORMAT, NULL,
                    NULL);
        static const uint8_t raw2[] = {7, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', 0, '"', ':', '}'};
        write_bytes(tmp_path("nul2.safetensors"), raw2, sizeof raw2);
        expect_open(__LINE__, "NUL inside a key", tmp_path("nul2.safetensors"), TLM_ERR_FORMAT,
                    NULL, NULL);
        char deep[4000];
        size_t k = 0;
        k += (size_t)sprintf(deep, "{\"a\":");
        for (int i = 0; i < 1500; i++)
            deep[k++] = '[';
        for (int i = 0; i < 1500; i++)
            deep[k++] = ']';
        deep[k++] = '}';
        deep[k] = '\0';
        HDR("nesting 1500 deep", deep, 0, TLM_ERR_FORMAT);
    }
    HDR("entry not an object", "{\"a\":5}", 0, TLM_ERR_FORMAT);
    HDR_MSG("dtype missing", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, TLM_ERR_FORMAT,
            "'a'");
    HDR("dtype not a string", "{\"a\":{\"dtype\":5,\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        TLM_ERR_FORMAT);
    HDR_MSG("bad dtype", "{\"a\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
            TLM_ERR_FORMAT, "F33");
    HDR("lower-case dtype", "{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        TLM_ERR_FORMAT);
    HDR("shape missing", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, TLM_ERR_FORMAT);
    HDR("shape a string", "{\"a\":{\"dtype\":\"F32\",\"shape\":\"2\",\"data_offsets\":[0,8]}}", 8,
        TLM_ERR_FORMAT);
    HDR("shape negative", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8,
        TLM_ERR_FORMAT);
    HDR("shape float", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,6]}}", 6,
        TLM_ERR_FORMAT);
    HDR("shape element a string",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8, TLM_ERR_FORMAT);
    HDR_MSG("shape/size mismatch", "{" T_A("[0,12]") "}", 12, TLM_ERR_FORMAT, "'a'");
    HDR("shape product overflows",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
        TLM_ERR_FORMAT);
    HDR("byte size overflows",
        "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,536870912],\"data_offsets\":[0,0]}}", 0,
        TLM_ERR_FORMAT);
    HDR("shape beyond 2^53", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1e300],\"data_offsets\":[0,8]}}",
        8, TLM_ERR_FORMAT);
    HDR("F4 odd element count", "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}",
        2, TLM_ERR_FORMAT);
    HDR("F6 not whole bytes",
        "{\"a\":{\"dtype\":\"F6_E2M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, TLM_ERR_FORMAT);
    HDR("data_offsets missing", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets one element", "{" T_A("[0]") "}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets three elements", "{" T_A("[0,8,8]") "}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets begin > end", "{" T_A("[8,0]") "}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets negative", "{" T_A("[-8,0]") "}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets float", "{" T_A("[0.5,8.5]") "}", 9, TLM_ERR_FORMAT);
    HDR("data_offsets huge", "{" T_A("[0,1e300]") "}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets past 2^53", "{" T_A("[9007199254740994,9007199254741002]") "}", 8,
        TLM_ERR_FORMAT);
    HDR("data_offsets strings", "{" T_A("[\"0\",\"8\"]") "}", 8, TLM_ERR_FORMAT);
    HDR("data_offsets an object", "{" T_A("{\"0\":8}") "}", 8, TLM_ERR_FORMAT);
    HDR_MSG("hole between tensors", "{" T_A("[0,8]") "," T_B("[12,20]") "}", 20, TLM_ERR_FORMAT,
            "hole");
    HDR_MSG("hole at start", "{" T_A("[4,12]") "," T_B("[12,20]") "}", 20, TLM_ERR_FORMAT, "hole");
    HDR_MSG("overlap", "{" T_A("[0,8]") "," T_B("[4,12]") "}", 12, TLM_ERR_FORMAT, "overlap");
    HDR("same range twice",
        "{" T_A("[0,8]") ",\"c\":{\"dtype\":\"F32\",\"shape\":[2],"
                         "\"data_offsets\":[0,8]}}",
        8, TLM_ERR_FORMAT);
    HDR_MSG("buffer longer than tensors", "{" T_A("[0,8]") "," T_B("[8,16]") "}", 17,
            TLM_ERR_FORMAT, "buffer");
    HDR("buffer shorter than tensors", "{" T_A("[0,8]") "," T_B("[8,16]") "}", 15, TLM_ERR_FORMAT);
    HDR("no tensors but a buffer", "{}", 4, TLM_ERR_FORMAT);
    HDR_MSG("duplicate key", "{" T_A("[0,8]") "," T_A("[8,16]") "}", 16, TLM_ERR_FORMAT,
            "duplicate");
    HDR("duplicate key, same offsets", "{" T_A("[0,8]") "," T_A("[0,8]") "}", 8, TLM_ERR_FORMAT);
    HDR("duplicate field",
        "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
        TLM_ERR_FORMAT);
    HDR("metadata a number", "{\"__metadata__\":5}", 0, TLM_ERR_FORMAT);
    HDR("metadata nested", "{\"__metadata__\":{\"a\":{\"b\":\"c\"}}}", 0, TLM_ERR_FORMAT);
    HDR("metadata number value", "{\"__metadata__\":{\"a\":1}}", 0, TLM_ERR_FORMAT);
    HDR("metadata twice", "{\"__metadata__\":{},\"__metadata__\":{}}", 0, TLM_ERR_FORMAT);
    HDR_MSG("5-d F32 tensor",
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,2],\"data_offsets\":"
            "[0,8]}}",
            8, TLM_ERR_UNSUPPORTED, "'a'");
    expect_open(__LINE__, "name 128 bytes", write_named(128), TLM_ERR_UNSUPPORTED, NULL, NULL);

    /* every truncation of the reference file, and a single-byte corruption sweep */
    {
        size_t n;
        uint8_t *ref = make_st(ref_json, 0, REF_BUF, &n);
        int bad = 0;
        size_t first_bad = 0;
        for (size_t len = 0; len < n; len++) {
            write_bytes(tmp_path("trunc.safetensors"), ref, len);
            st_set *s = NULL;
            tlm_error err = {0};
            tlm_status st = tlm_st_open(tmp_path("trunc.safetensors"), &s, &err);
            if (st != TLM_ERR_FORMAT || s || !err.message[0]) {
                if (!bad++) first_bad = len;
                tlm_st_close(s);
            }
        }
        CHECK(bad == 0, "truncation sweep over %zu lengths: %d wrong, first at %zu", n, bad,
              first_bad);
        bad = 0;
        uint8_t *cp = malloc(n);
        if (!cp) die("allocate");
        for (size_t at = 0; at < n - REF_BUF; at++) {
            static const uint8_t vals[] = {0x00, 0xff, '"', '{', '-', '9', ' '};
            for (size_t k = 0; k < sizeof vals; k++) {
                memcpy(cp, ref, n);
                cp[at] = vals[k];
                write_bytes(tmp_path("flip.safetensors"), cp, n);
                st_set *s = NULL;
                tlm_error err = {0};
                tlm_status st = tlm_st_open(tmp_path("flip.safetensors"), &s, &err);
                if (st != TLM_OK && (s || !err.message[0])) bad++;
                tlm_st_close(s);
            }
        }
        CHECK(bad == 0, "corruption sweep: %d failures without a message", bad);
        free(cp);
        free(ref);
    }

    check_sharded();

    /* arguments */
    {
        tlm_error err = {0};
        st_set *s = NULL;
        CHECK(tlm_st_open(NULL, &s, &err) == TLM_ERR_ARG && !s, "NULL path");
        CHECK(tlm_st_open("x", NULL, NULL) == TLM_ERR_ARG, "NULL out");
        tlm_st_close(NULL);
        CHECK(tlm_st_n_tensors(NULL) == 0 && !tlm_st_tensor(NULL, 0) &&
                  !tlm_st_find_tensor(NULL, "a"),
              "NULL set");
    }

    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return finish("safetensors_read");
}
