/* mapped_file.h - the one way lib/ opens and maps a file it reads (GGUF, safetensors,
 * llama2.c), so every reader gets the same checks and messages.
 *
 * The map is private and writable: readers may rearrange weights in place (model_interleave.c),
 * which gives those pages to the process and never writes the file. */
#ifndef TLM_MAPPED_FILE_H
#define TLM_MAPPED_FILE_H

#include <stdint.h>

#include "error.h"

typedef struct tlm_mapped_file {
    uint8_t *data; /* NULL when nothing is mapped */
    uint64_t size;
} tlm_mapped_file;

/* Opens path (close-on-exec, never blocking on a FIFO), refuses anything but a regular file
 * of at least min_size bytes (min_size 0 is taken as 1: an empty file cannot be mapped) that
 * fits the address space, and maps it whole. `what` names the expected content in the
 * too-small message ("a GGUF header"). On failure *out is zeroed and err names the file and,
 * for system errors, gives strerror's text. */
tlm_status tlm_map_file(const char *path, uint64_t min_size, const char *what, tlm_mapped_file *out,
                        tlm_error *err);

/* Releases the mapping and zeroes *f; a zeroed or NULL f is a no-op. */
void tlm_unmap_file(tlm_mapped_file *f);

#endif
