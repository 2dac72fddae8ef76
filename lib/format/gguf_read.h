/* gguf_read.h - GGUF (v2, v3) reader: validates the whole header at open, then hands out
 * metadata values and tensor views pointing into the file's private map (mapped_file.h).
 *
 * Everything in the file is untrusted: counts are checked against the bytes that remain,
 * sizes use checked 64-bit arithmetic, tensor data must lie inside the file and tile the data
 * section in order at the declared alignment (as ggml writes it), and a failure names the
 * file, the field and the byte offset. */
#ifndef TLM_GGUF_READ_H
#define TLM_GGUF_READ_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "tensor.h"

typedef enum gguf_vtype {
    GGUF_U8 = 0,
    GGUF_I8 = 1,
    GGUF_U16 = 2,
    GGUF_I16 = 3,
    GGUF_U32 = 4,
    GGUF_I32 = 5,
    GGUF_F32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_U64 = 10,
    GGUF_I64 = 11,
    GGUF_F64 = 12,
} gguf_vtype;

typedef struct gguf_kv {
    char *key; /* NUL-terminated copy */
    gguf_vtype type;
    union {
        uint64_t u; /* U8..U64, BOOL (0/1) */
        int64_t i;  /* I8..I64 */
        double f;   /* F32, F64 */
        struct {
            const char *ptr;
            uint64_t len;
        } str; /* STRING: not terminated */
        struct {
            gguf_vtype type;       /* element type; nested arrays are rejected */
            uint64_t n;            /* element count */
            const uint8_t *data;   /* first element in the map (STRING: its length prefix) */
            uint64_t *str_offsets; /* STRING arrays: n offsets of each length prefix */
        } arr;
    } v;
} gguf_kv;

typedef struct gguf_file {
    char *path;
    const uint8_t *map;
    uint64_t size;
    uint32_t version;
    int64_t n_kv;
    gguf_kv *kv;
    int64_t n_tensors;
    tlm_tensor *tensors;  /* data points into map */
    uint64_t alignment;   /* general.alignment or 32 */
    uint64_t data_offset; /* start of the tensor data section */
} gguf_file;

/* Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown types. */
uint64_t tlm_gguf_value_size(uint32_t type);

tlm_status tlm_gguf_open(const char *path, gguf_file **out, tlm_error *err);
void tlm_gguf_close(gguf_file *f); /* NULL is a no-op */

const gguf_kv *tlm_gguf_find(const gguf_file *f, const char *key); /* NULL if absent */
const tlm_tensor *tlm_gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters: false if the key is absent or its value cannot represent the request (a
 * negative value for u32, a string for an int). Integers of any width convert when the value
 * fits. Use tlm_gguf_find to tell a missing key from a mistyped one. */
bool tlm_gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out);
bool tlm_gguf_get_f32(const gguf_file *f, const char *key, float *out); /* from F32/F64/ints */
bool tlm_gguf_get_bool(const gguf_file *f, const char *key, bool *out);
/* Copies a string value (NUL-terminated, truncated to cap - 1); false if absent/not string. */
bool tlm_gguf_get_str(const gguf_file *f, const char *key, char *buf, uint64_t cap);

/* Element i of a STRING array (pointer into the map, not terminated). i must be < n. */
const char *tlm_gguf_arr_str(const gguf_kv *kv, uint64_t i, uint64_t *len);

#endif
