/* dispatch.c - fills the kernel table once: references, then each ISA level the CPU has,
 * capped by TLM_ISA=ref|avx2|avx512 (avx512 takes VNNI kernels too when the CPU has them). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_impl.h"

enum level { LEVEL_REF, LEVEL_AVX2, LEVEL_AVX512 };

static enum level cpu_level(void)
{
    /* the AVX-512 files also use AVX2, FMA and F16C instructions */
    unsigned avx2 = TLM_CPU_AVX2 | TLM_CPU_FMA | TLM_CPU_F16C;
    if (!tlm_cpu_has(avx2)) return LEVEL_REF;
    return tlm_cpu_has(avx2 | TLM_CPU_AVX512) ? LEVEL_AVX512 : LEVEL_AVX2;
}

void tlm_kernels_fill(tlm_kernels *k, const char *force)
{
    enum level level = cpu_level();
    if (force && strcmp(force, "ref") == 0) level = LEVEL_REF;
    if (force && strcmp(force, "avx2") == 0 && level > LEVEL_AVX2) level = LEVEL_AVX2;

    tlm_kernels_init_ref(k);
    if (level >= LEVEL_AVX2) tlm_kernels_add_avx2(k);
    if (level >= LEVEL_AVX512) tlm_kernels_add_avx512(k);
    if (level >= LEVEL_AVX512 && tlm_cpu_has(TLM_CPU_AVX512_VNNI)) tlm_kernels_add_avx512vnni(k);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static tlm_kernels table;

static void table_fill(void) { tlm_kernels_fill(&table, getenv("TLM_ISA")); }

const tlm_kernels *tlm_kernels_get(void)
{
    pthread_once(&once, table_fill);
    return &table;
}

