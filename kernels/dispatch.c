/* dispatch.c - fills the kernel table once: references, then each ISA level the CPU has,
 * capped by TLM_ISA. x86-64: ref|avx2|avx512 (avx512 takes VNNI and AVX512_BF16 kernels too
 * when the CPU has them); AArch64: ref|neon|dotprod|i8mm. Each architecture names only its own
 * tables (the other's files are not built). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "kernels_impl.h"

#if defined(__x86_64__) || defined(__i386__)
static const char *const level_names[] = {"ref", "avx2", "avx512"};

static int cpu_level(void)
{
    /* the AVX-512 files also use AVX2, FMA and F16C instructions */
    unsigned avx2 = TLM_CPU_AVX2 | TLM_CPU_FMA | TLM_CPU_F16C;
    if (!tlm_cpu_has(avx2)) return 0;
    return tlm_cpu_has(avx2 | TLM_CPU_AVX512) ? 2 : 1;
}

static void add_levels(tlm_kernels *k, int level)
{
    if (level >= 1) tlm_kernels_add_avx2(k);
    if (level >= 2) tlm_kernels_add_avx512(k);
    if (level >= 2 && tlm_cpu_has(TLM_CPU_AVX512_VNNI)) tlm_kernels_add_avx512vnni(k);
    if (level >= 2 && tlm_cpu_has(TLM_CPU_AVX512_BF16)) tlm_kernels_add_avx512bf16(k);
}
#elif defined(__aarch64__)
static const char *const level_names[] = {"ref", "neon", "dotprod", "i8mm"};

static int cpu_level(void)
{
    if (!tlm_cpu_has(TLM_CPU_NEON)) return 0;
    if (!tlm_cpu_has(TLM_CPU_NEON | TLM_CPU_DOTPROD)) return 1;
    return tlm_cpu_has(TLM_CPU_NEON | TLM_CPU_DOTPROD | TLM_CPU_I8MM) ? 3 : 2;
}

static void add_levels(tlm_kernels *k, int level)
{
    if (level >= 1) tlm_kernels_add_neon(k);
    if (level >= 2) tlm_kernels_add_dotprod(k);
    if (level >= 3) tlm_kernels_add_i8mm(k);
}
#else
static const char *const level_names[] = {"ref"};

static int cpu_level(void) { return 0; }

static void add_levels(tlm_kernels *k, int level) { (void)k, (void)level; }
#endif

void tlm_kernels_fill(tlm_kernels *k, const char *force)
{
    int level = cpu_level();
    for (int i = 0; force && i < (int)(sizeof level_names / sizeof *level_names); i++)
        if (strcmp(force, level_names[i]) == 0 && i < level) level = i; /* never above the CPU */

    tlm_kernels_init_ref(k);
    add_levels(k, level);
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static tlm_kernels table;

static void table_fill(void) { tlm_kernels_fill(&table, getenv("TLM_ISA")); }

const tlm_kernels *tlm_kernels_get(void)
{
    pthread_once(&once, table_fill);
    return &table;
}
