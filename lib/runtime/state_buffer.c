/* state_buffer.c - a context's state in memory: the bytes of tlm_context_save's file, written
 * and read through the same code as the file (context_file.c) over a memory stream. */
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include "context.h"
#include "error.h"

/* A write stream into a fixed buffer. Not fmemopen: glibc's keeps the last byte for a
 * terminator, and the state has no room for one. */
typedef struct sink {
    char *buf;
    size_t cap, used;
} sink;

static ssize_t sink_write(void *cookie, const char *data, size_t n)
{
    sink *s = cookie;
    if (n > s->cap - s->used) return 0; /* a short write: the caller sees the failure */
    memcpy(s->buf + s->used, data, n);
    s->used += n;
    return (ssize_t)n;
}

tlm_status tlm_context_save_buffer(const tlm_context *ctx, void *buf, size_t cap, size_t *size,
                                   tlm_error *err)
{
    if (size) *size = 0;
    if (!ctx || !size || (cap > 0 && !buf))
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_save_buffer: %s",
                        !ctx    ? "ctx is NULL"
                        : !size ? "size is NULL"
                                : "buf is NULL with a capacity");
    uint64_t need = tlm_context_state_bytes(ctx);
    if (need > SIZE_MAX) return tlm_fail(err, TLM_ERR_NO_MEMORY, "the state is too large");
    *size = (size_t)need;
    if (cap < need)
        return tlm_fail(err, TLM_ERR_BUFFER_TOO_SMALL,
                        "tlm_context_save_buffer: the state needs "
                        "%zu bytes; the buffer has %zu",
                        (size_t)need, cap);
    sink out = {buf, cap, 0};
    FILE *fp = fopencookie(&out, "wb", (cookie_io_functions_t){.write = sink_write});
    if (!fp) return tlm_fail(err, TLM_ERR_NO_MEMORY, "tlm_context_save_buffer: no memory stream");
    bool ok = tlm_context_write_state(ctx, fp);
    if (fclose(fp) != 0) ok = false;
    if (!ok || out.used != need)
        return tlm_fail(err, TLM_ERR_IO, "tlm_context_save_buffer: writing failed");
    return TLM_OK;
}

tlm_status tlm_context_load_buffer(tlm_context *ctx, const void *buf, size_t size, tlm_error *err)
{
    if (!ctx || !buf || size == 0)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_load_buffer: %s",
                        !ctx ? "ctx is NULL" : "no bytes given");
    FILE *fp = fmemopen((void *)buf, size, "rb"); /* "rb": the bytes are only read */
    if (!fp) return tlm_fail(err, TLM_ERR_NO_MEMORY, "tlm_context_load_buffer: no memory stream");
    tlm_status st = tlm_context_read_state(ctx, fp, size, "context buffer", err);
    fclose(fp);
    return st;
}
