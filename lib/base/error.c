#include "error.h"

#include <stdarg.h>
#include <stdio.h>

tlm_status tlm_fail(tlm_error *err, tlm_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

const char *tlm_status_string(tlm_status status)
{
    switch (status) {
    case TLM_OK:
        return "ok";
    case TLM_ERR_IO:
        return "i/o error";
    case TLM_ERR_FORMAT:
        return "malformed input";
    case TLM_ERR_UNSUPPORTED:
        return "unsupported";
    case TLM_ERR_NO_MEMORY:
        return "out of memory";
    case TLM_ERR_ARG:
        return "invalid argument";
    case TLM_ERR_CONTEXT_FULL:
        return "context full";
    case TLM_ERR_CANCELLED:
        return "cancelled";
    case TLM_ERR_BUFFER_TOO_SMALL:
        return "buffer too small";
    }
    return "unknown status";
}
