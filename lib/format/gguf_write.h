/* gguf_write.h - GGUF v3 writer: metadata and tensor infos are collected in memory, then the
 * tensor data is streamed in the order the tensors were added, so a model of any size is
 * written without holding a second copy of its weights.
 *
 * Usage:
 *     gguf_writer *w;
 *     if (tlm_gguf_writer_open(path, &w, err)) return ...;
 *     tlm_gguf_writer_set_str(w, "general.architecture", "llama");      // ... more keys
 *     tlm_gguf_writer_add_tensor(w, "token_embd.weight", TLM_TYPE_F16, 2, ne);  // ... more
 *     if ((st = tlm_gguf_writer_begin_data(w)) != TLM_OK) { tlm_gguf_writer_discard(w); return st;
 * } tlm_gguf_writer_write(w, bytes, n);                                // any chunking return
 * tlm_gguf_writer_finish(w);
 *
 * The file is written under a temporary name next to `path` and renamed over it only when
 * tlm_gguf_writer_finish succeeds: a failed or discarded write leaves no partial file, and a
 * model may be saved over the file it was loaded (mapped) from.
 *
 * Errors are sticky: after the first failure every call returns the same status and does
 * nothing, so a run of set/add calls can be checked once. Messages (through the err given
 * to tlm_gguf_writer_open) name the file and the key or tensor. */
#ifndef TLM_GGUF_WRITE_H
#define TLM_GGUF_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "gguf_read.h"
#include "tensor.h"

#define GGUF_WRITE_MAX_NAME 63 /* llama.cpp's tensor name limit (GGML_MAX_NAME - 1) */

typedef struct gguf_writer gguf_writer;

/* Creates the temporary file. err (may be NULL) also receives every later failure. */
tlm_status tlm_gguf_writer_open(const char *path, gguf_writer **out, tlm_error *err);

/* Metadata, before tlm_gguf_writer_begin_data. Keys are unique, 1..65535 bytes. Setting the
 * u32 "general.alignment" (a power of two, before any tensor is added) changes the data
 * alignment from the default 32. */
tlm_status tlm_gguf_writer_set_u32(gguf_writer *w, const char *key, uint32_t v);
tlm_status tlm_gguf_writer_set_i32(gguf_writer *w, const char *key, int32_t v);
tlm_status tlm_gguf_writer_set_f32(gguf_writer *w, const char *key, float v);
tlm_status tlm_gguf_writer_set_bool(gguf_writer *w, const char *key, bool v);
tlm_status tlm_gguf_writer_set_str(gguf_writer *w, const char *key, const char *v);
tlm_status tlm_gguf_writer_set_arr_str(gguf_writer *w, const char *key, const char *const *v,
                                       uint64_t n);
tlm_status tlm_gguf_writer_set_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
tlm_status tlm_gguf_writer_set_arr_i32(gguf_writer *w, const char *key, const int32_t *v,
                                       uint64_t n);
/* Any key-value read by gguf_read.c (every scalar type, arrays of any element type). */
tlm_status tlm_gguf_writer_copy_kv(gguf_writer *w, const gguf_kv *kv);

/* Declares the next tensor: n_dims in 1..4, ne in ggml order (ne[0] the row length, a
 * multiple of the type's block size), every ne >= 1. Its data comes after the earlier ones'. */
tlm_status tlm_gguf_writer_add_tensor(gguf_writer *w, const char *name, tlm_type type, int n_dims,
                                      const int64_t *ne);

/* Bytes the data of tensor i takes in the file (0 if there is no tensor i). */
uint64_t tlm_gguf_writer_tensor_bytes(const gguf_writer *w, int64_t i);

/* Writes the header, metadata and tensor infos; no key or tensor can be added afterwards. */
tlm_status tlm_gguf_writer_begin_data(gguf_writer *w);

/* The next n bytes of tensor data, continuing across tensors in the order they were added
 * (padding between them is inserted here). Writing more than the tensors hold fails. */
tlm_status tlm_gguf_writer_write(gguf_writer *w, const void *data, uint64_t n);

/* Checks that every tensor got all its bytes, flushes, closes and renames the file into
 * place. Always frees w; on failure the temporary file is removed. */
tlm_status tlm_gguf_writer_finish(gguf_writer *w);

/* Abandons the file (removed) and frees w. NULL is a no-op. */
void tlm_gguf_writer_discard(gguf_writer *w);

#endif
