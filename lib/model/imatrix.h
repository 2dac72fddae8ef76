/* imatrix.h - llama.cpp's importance-matrix file (llama-imatrix's .dat): for each weight
 * matrix by GGUF name, the mean over the calibration tokens of each input column's squared
 * activation, which the quantizers use to weigh each column's rounding error. */
#ifndef TLM_IMATRIX_H
#define TLM_IMATRIX_H

#include <stdint.h>

#include "tinylm.h"

typedef struct tlm_imatrix tlm_imatrix;

/* Reads `path`: int32 n_entries, then per entry int32 name length, the name, int32 ncall,
 * int32 nval and nval float32 (sums over ncall calls, divided here by ncall as llama-quantize
 * does), then optionally int32 last_call, int32 length and the dataset name. Every count is
 * checked against the bytes left. */
tlm_status tlm_imatrix_read(const char *path, tlm_imatrix **out, tlm_error *err);

/* The n weights of tensor `name`, NULL when the file has no entry for it; *n_found = its count
 * (so a caller can refuse an entry of the wrong length). */
const float *tlm_imatrix_find(const tlm_imatrix *im, const char *name, int64_t *n_found);

int64_t tlm_imatrix_count(const tlm_imatrix *im); /* entries */

void tlm_imatrix_free(tlm_imatrix *im); /* NULL: no-op */

#endif
