/* imatrix_out.h - collects an importance matrix while a context evaluates text and writes it
 * in llama.cpp's imatrix .dat layout (what llama-imatrix writes and `tlm-quantize --imatrix`
 * or llama-quantize read). Per weight matrix and input column j it keeps sum x_j^2 over every
 * token that went through the matrix, so the file's value is mean(x_j^2) * ncall, ncall being
 * the number of evaluation chunks (the reader divides by ncall). */
#ifndef TLM_TOOLS_IMATRIX_OUT_H
#define TLM_TOOLS_IMATRIX_OUT_H

#include <stdbool.h>

#include "tinylm.h"

typedef struct imatrix_out imatrix_out;

/* with_output: also collect the LM head ("output.weight"), as llama-imatrix --process-output. */
imatrix_out *imatrix_out_new(bool with_output);
void imatrix_out_free(imatrix_out *im);

/* Observes ctx's matrix inputs from now on (tlm_context_set_matmul_observer). */
void imatrix_out_attach(imatrix_out *im, tlm_context *ctx);
/* Marks the start of an evaluation chunk: each matrix seen during it counts one call. */
void imatrix_out_next_chunk(imatrix_out *im);

/* Writes the file; false with a message on stderr (also when an input was not finite or
 * memory ran out while collecting). `dataset` is recorded as the file's text name. */
bool imatrix_out_write(const imatrix_out *im, const char *path, const char *dataset);

#endif
