/* cpu.c - which SIMD features the CPU has and the OS saves: x86 from CPUID plus XCR0 via
 * xgetbv; AArch64 from the kernel's hwcaps (Linux) or sysctl (macOS), since EL0 code cannot
 * read the ID registers itself everywhere. Built without SIMD flags: it must run on any x86-64
 * or ARMv8-A core. */
#include <pthread.h>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 bits: the OS saves this register state on context switches. */
enum {
    XCR0_SSE = 1u << 1,
    XCR0_YMM = 1u << 2,
    XCR0_OPMASK = 1u << 5,
    XCR0_ZMM_HI256 = 1u << 6,
    XCR0_HI16_ZMM = 1u << 7
};

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static unsigned detect(void)
{
    unsigned a, b, c, d, feat = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    bool osxsave = c & bit_OSXSAVE, avx = c & bit_AVX, fma = c & bit_FMA, f16c = c & bit_F16C;
    if (!osxsave || !avx) return 0; /* no AVX, or the OS cannot tell us what it saves */
    uint64_t xcr0 = xgetbv0();
    uint64_t ymm_state = XCR0_SSE | XCR0_YMM;
    uint64_t zmm_state = ymm_state | XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    if ((xcr0 & ymm_state) != ymm_state) return 0;

    if (fma) feat |= TLM_CPU_FMA;
    if (f16c) feat |= TLM_CPU_F16C;
    if (__get_cpuid_max(0, NULL) < 7) return feat;
    __cpuid_count(7, 0, a, b, c, d);
    if (b & bit_AVX2) feat |= TLM_CPU_AVX2;
    unsigned avx512 = bit_AVX512F | bit_AVX512BW | bit_AVX512VL | bit_AVX512DQ;
    if ((b & avx512) == avx512 && (xcr0 & zmm_state) == zmm_state) {
        feat |= TLM_CPU_AVX512;
        if (c & bit_AVX512VNNI) feat |= TLM_CPU_AVX512_VNNI;
    }
    if (a >= 1) { /* leaf 7 has a subleaf 1: EAX bit 4 is AVX-VNNI, bit 5 AVX512_BF16 */
        __cpuid_count(7, 1, a, b, c, d);
        if (a & (1u << 4)) feat |= TLM_CPU_AVX_VNNI;
        if ((a & (1u << 5)) && (feat & TLM_CPU_AVX512)) feat |= TLM_CPU_AVX512_BF16;
    }
    return feat;
}
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

/* The kernel's hwcap bits (asm/hwcap.h; spelled out for older headers). */
enum { HWCAP_ASIMD_BIT = 1u << 1, HWCAP_ASIMDDP_BIT = 1u << 20, HWCAP2_I8MM_BIT = 1u << 13 };

static unsigned detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
    unsigned feat = 0;
    if (hw & HWCAP_ASIMD_BIT) feat |= TLM_CPU_NEON;
    if (hw & HWCAP_ASIMDDP_BIT) feat |= TLM_CPU_DOTPROD;
    if (hw2 & HWCAP2_I8MM_BIT) feat |= TLM_CPU_I8MM;
    return feat;
}
#elif defined(__aarch64__) && defined(__APPLE__)
#include <sys/sysctl.h>

static bool sysctl_flag(const char *name)
{
    int value = 0;
    size_t size = sizeof value;
    return sysctlbyname(name, &value, &size, NULL, 0) == 0 && value != 0;
}

/* Every Apple Silicon core has AdvSIMD; M1 and later have the dot product, M2 and later i8mm. */
static unsigned detect(void)
{
    unsigned feat = TLM_CPU_NEON;
    if (sysctl_flag("hw.optional.arm.FEAT_DotProd")) feat |= TLM_CPU_DOTPROD;
    if (sysctl_flag("hw.optional.arm.FEAT_I8MM")) feat |= TLM_CPU_I8MM;
    return feat;
}
#elif defined(__aarch64__)
static unsigned detect(void) { return TLM_CPU_NEON; } /* AdvSIMD is part of ARMv8-A */
#else
static unsigned detect(void) { return 0; }
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned features;

static void detect_once(void) { features = detect(); }

bool tlm_cpu_has(unsigned mask)
{
    pthread_once(&once, detect_once); /* CPUID can trap to the hypervisor: ask once */
    return (features & mask) == mask;
}
