#include <omp.h>

#include "threads.h"

int tlm_default_threads(void)
{
    int n = omp_get_num_procs();
    return n > 0 ? n : 1;
}
