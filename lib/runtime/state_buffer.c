/* state_buffer.c - a context's or a sequence's state in memory: the bytes of tlm_context_save's
 * or tlm_context_seq_save's file, written and read through the same code as the file
 * (context_file.c) over a memory stream. */
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

static tlm_status save_buffer(const tlm_context *ctx, int32_t seq, bool whole, void *buf,
                              size_t cap, size_t *size, const char *what, tlm_error *err)
{
    uint64_t need = tlm_context_state_bytes(ctx, seq, whole);
    if (need > SIZE_MAX) return tlm_fail(err, TLM_ERR_NO_MEMORY, "the state is too large");
    *size = (size_t)need;
    if (cap < need)
        return tlm_fail(err, TLM_ERR_BUFFER_TOO_SMALL,
                        "%s: the state needs %zu bytes; the buffer has %zu", what, (size_t)need,
                        cap);
    sink out = {buf, cap, 0};
    FILE *fp = fopencookie(&out, "wb", (cookie_io_functions_t){.write = sink_write});
    if (!fp) return tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: no memory stream", what);
    bool ok = tlm_context_write_state(ctx, seq, whole, fp);
    if (fclose(fp) != 0) ok = false;
    if (!ok || out.used != need) return tlm_fail(err, TLM_ERR_IO, "%s: writing failed", what);
    return TLM_OK;
}

/* The arguments both save calls check; seq is not checked for the whole-context one. */
static tlm_status check_save_args(const tlm_context *ctx, int32_t seq, const void *buf, size_t cap,
                                  size_t *size, const char *what, tlm_error *err)
{
    if (size) *size = 0;
    if (!ctx || !size || (cap > 0 && !buf))
        return tlm_fail(err, TLM_ERR_ARG, "%s: %s", what,
                        !ctx    ? "ctx is NULL"
                        : !size ? "size is NULL"
                                : "buf is NULL with a capacity");
    if (seq < 0 || seq >= ctx->n_seq_max)
        return tlm_fail(err, TLM_ERR_ARG,
                        "%s: sequence id %d is outside [0, %d) (the context's n_seq_max)", what,
                        seq, ctx->n_seq_max);
    return TLM_OK;
}

tlm_status tlm_context_save_buffer(const tlm_context *ctx, void *buf, size_t cap, size_t *size,
                                   tlm_error *err)
{
    const char *what = "tlm_context_save_buffer";
    tlm_status st = check_save_args(ctx, 0, buf, cap, size, what, err);
    return st != TLM_OK ? st : save_buffer(ctx, 0, true, buf, cap, size, what, err);
}

tlm_status tlm_context_seq_save_buffer(const tlm_context *ctx, int32_t seq, void *buf, size_t cap,
                                       size_t *size, tlm_error *err)
{
    const char *what = "tlm_context_seq_save_buffer";
    tlm_status st = check_save_args(ctx, seq, buf, cap, size, what, err);
    return st != TLM_OK ? st : save_buffer(ctx, seq, false, buf, cap, size, what, err);
}

static tlm_status load_buffer(tlm_context *ctx, int32_t seq, bool whole, const void *buf,
                              size_t size, tlm_error *err)
{
    FILE *fp = fmemopen((void *)buf, size, "rb"); /* "rb": the bytes are only read */
    if (!fp) {
        if (!whole) tlm_context_drop_seq(ctx, seq); /* as any failure of a sequence load */
        return tlm_fail(err, TLM_ERR_NO_MEMORY, "context buffer: no memory stream");
    }
    tlm_status st = tlm_context_read_state(ctx, seq, whole, fp, size, "context buffer", err);
    fclose(fp);
    return st;
}

tlm_status tlm_context_load_buffer(tlm_context *ctx, const void *buf, size_t size, tlm_error *err)
{
    if (!ctx || !buf || size == 0)
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_load_buffer: %s",
                        !ctx ? "ctx is NULL" : "no bytes given");
    return load_buffer(ctx, 0, true, buf, size, err);
}

tlm_status tlm_context_seq_load_buffer(tlm_context *ctx, int32_t seq, const void *buf, size_t size,
                                       tlm_error *err)
{
    if (!ctx) return tlm_fail(err, TLM_ERR_ARG, "tlm_context_seq_load_buffer: ctx is NULL");
    if (seq < 0 || seq >= ctx->n_seq_max)
        return tlm_fail(err, TLM_ERR_ARG,
                        "tlm_context_seq_load_buffer: sequence id %d is outside [0, %d) (the "
                        "context's n_seq_max)",
                        seq, ctx->n_seq_max);
    if (!buf || size == 0) {
        tlm_context_drop_seq(ctx, seq); /* as any failure of a sequence load */
        return tlm_fail(err, TLM_ERR_ARG, "tlm_context_seq_load_buffer: no bytes given");
    }
    return load_buffer(ctx, seq, false, buf, size, err);
}
