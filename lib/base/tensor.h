/* tensor.h - weight types and named tensor views shared by the format readers and the model.
 *
 * A tensor view never owns its data: it points into a memory-mapped file (or a buffer the
 * model owns). Dimensions are in ggml order: ne[0] is the innermost (contiguous) dimension,
 * so a weight matrix [out, in] in PyTorch terms has ne[0] = in, ne[1] = out. */
#ifndef TLM_TENSOR_H
#define TLM_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tinylm.h"

#define TLM_MAX_DIMS 4
#define TLM_MAX_NAME 128

/* Storage layout of one type: elements per block and bytes per block. */
typedef struct tlm_type_traits {
    const char *name;
    int32_t block_elems;
    int32_t block_bytes;
} tlm_type_traits;

/* NULL for a type value libtinylm does not know (any value read from a file may be that). */
const tlm_type_traits *tlm_type_get(uint32_t type);

/* GGUF's name of a type id, whether libtinylm reads it or not (IQ2_XXS, ...); NULL if GGUF
 * never defined the id. */
const char *tlm_type_gguf_name(uint32_t type);

/* Bytes of a row of n elements; false if n is not a whole number of blocks or overflows. */
bool tlm_type_row_bytes(tlm_type type, int64_t n, uint64_t *out);

typedef struct tlm_tensor {
    char name[TLM_MAX_NAME];
    tlm_type type;
    int32_t n_dims;
    int64_t ne[TLM_MAX_DIMS]; /* unused dims are 1 */
    const void *data;
    uint64_t nbytes;
} tlm_tensor;

static inline int64_t tlm_tensor_nelem(const tlm_tensor *t)
{
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

#endif
