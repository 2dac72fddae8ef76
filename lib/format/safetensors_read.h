/* safetensors_read.h - Hugging Face safetensors reader (single file or sharded index).
 *
 * Validates per the safetensors rules (header size cap, JSON shape, dtype sizes, offsets that
 * tile the buffer with no holes, buffer length equal to the file) and maps each file
 * privately (mapped_file.h). Tensors of dtype F32, F16 and BF16 are listed; other dtypes are
 * validated and skipped. A tensor whose data is not aligned to its element size is copied into an
 * aligned buffer owned by the set. */
#ifndef TLM_SAFETENSORS_READ_H
#define TLM_SAFETENSORS_READ_H

#include <stdint.h>

#include "error.h"
#include "tensor.h"

typedef struct st_set st_set; /* opaque: the maps and copies behind the views */

/* dir holds model.safetensors.index.json (sharded) or model.safetensors; path may also be
 * one .safetensors file. */
tlm_status tlm_st_open(const char *path, st_set **out, tlm_error *err);
void tlm_st_close(st_set *s); /* NULL is a no-op */

int64_t tlm_st_n_tensors(const st_set *s);
const tlm_tensor *tlm_st_tensor(const st_set *s, int64_t i);
const tlm_tensor *tlm_st_find_tensor(const st_set *s, const char *name); /* NULL if absent */

#endif
