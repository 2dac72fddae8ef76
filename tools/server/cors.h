/* cors.h - Cross-Origin Resource Sharing for tlm-server (--cors-origin): the browser's
 * preflight (OPTIONS) answered 204, and Access-Control-Allow-Origin on every response whose
 * request came from an allowed origin. Off (no origin configured): nothing is added and an
 * OPTIONS request gets the 405 of any wrong method. */
#ifndef TLM_SERVER_CORS_H
#define TLM_SERVER_CORS_H

#include <microhttpd.h>
#include <stdbool.h>

/* The allowed origins ("*" allows any), kept by pointer. Called once before the daemon
 * starts: afterwards the list is only read, from every connection thread. */
void cors_configure(const char *const *origins, int n);
bool cors_enabled(void);
/* Adds Access-Control-Allow-Origin (and Vary: Origin) to r when c's Origin is allowed. */
void cors_add_headers(struct MHD_Response *r, struct MHD_Connection *c);
/* Answers a preflight: 204 with the allowed methods, headers and max age (and the origin,
 * when allowed: a browser refuses the real request otherwise). */
enum MHD_Result cors_preflight(struct MHD_Connection *c);

#endif
