/* error.h - how lib/ reports failures: fill a tlm_error (if the caller gave one), return the
 * status. */
#ifndef TLM_ERROR_H
#define TLM_ERROR_H

#include "tinylm.h"

#if defined(__GNUC__)
#define TLM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TLM_PRINTF(a, b)
#endif

/* Formats the message into err->message (truncated to fit), sets err->status, returns status.
 * err may be NULL. */
tlm_status tlm_fail(tlm_error *err, tlm_status status, const char *fmt, ...) TLM_PRINTF(3, 4);

#endif
