/* machine.c - what this machine offers: the kernel ISA chosen for it, and its streaming-read
 * bandwidth measured with the same SIMD loads the kernels use, so decode speed can be judged
 * against what memory can deliver. */
#include <omp.h>
#include <stdlib.h>
#include <time.h>

#include "kernels.h"
#include "model.h"

TLM_API const char *tlm_kernels_isa(void) { return tlm_kernels_get()->isa; }

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double tlm_measure_read_bandwidth(int32_t n_threads, int32_t reps)
{
    const tlm_kernels *k = tlm_kernels_get();
    int nt = n_threads > 0 ? n_threads : tlm_default_threads();
    int64_t n = (int64_t)1 << 28; /* 1 GiB of floats: far beyond any cache */
    float *buf = NULL;
    if (posix_memalign((void **)&buf, 64, (size_t)n * sizeof(float)) != 0) return 0.0;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++)
        buf[i] = 1.0f;
    double best = 0.0;
    for (int r = 0; r < (reps > 0 ? reps : 5); r++) {
        float sums[1024] = {0};
        double t0 = seconds();
#pragma omp parallel num_threads(nt)
        {
            int64_t t = omp_get_thread_num(), m = omp_get_num_threads();
            int64_t lo = n * t / m, hi = n * (t + 1) / m;
            /* a . a reads each float once: one stream per thread, as a mat-vec row is */
            sums[t % 1024] = k->dot_f32(buf + lo, buf + lo, hi - lo);
        }
        double gbs = (double)n * sizeof(float) / (seconds() - t0) / 1e9;
        if (sums[0] > 0.0f && gbs > best) best = gbs;
    }
    free(buf);
    return best;
}
