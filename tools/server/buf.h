/* buf.h - a growable byte buffer for building JSON and SSE output in tlm-server. A failed
 * allocation sets `failed` and later appends do nothing, so callers check once at the end. */
#ifndef TLM_SERVER_BUF_H
#define TLM_SERVER_BUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct buf {
    char *data; /* NUL-terminated when len > 0 and !failed */
    size_t len, cap;
    bool failed;
} buf;

void buf_free(buf *b);
void buf_clear(buf *b); /* keeps the memory */
void buf_append(buf *b, const char *s, size_t n);
void buf_puts(buf *b, const char *s);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s[0..n) as a JSON string literal with quotes; NUL and control bytes become \u00XX. The
 * bytes are copied as they are otherwise: callers pass valid UTF-8. */
void buf_json_string(buf *b, const char *s, size_t n);

#endif
