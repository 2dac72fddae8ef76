/* threads.h - how many threads a call uses when its caller leaves it to the library. */
#ifndef TLM_THREADS_H
#define TLM_THREADS_H

/* Threads to use when the caller asks for 0: the cores OpenMP sees. */
int tlm_default_threads(void);

#endif
