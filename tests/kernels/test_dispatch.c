/* test_dispatch.c - CPU feature detection against the compiler's own (libgcc's CPUID and
 * XCR0 checks), the table tlm_kernels_get() returns, and the TLM_ISA levels. */
#include "isa_tables.h"
#include "tinylm.h"

/* True if every slot libtinylm implements is filled. */
static bool slots_filled(const tlm_kernels *k)
{
    static const tlm_dtype types[] = {TLM_DT_F32,  TLM_DT_F16,  TLM_DT_BF16, TLM_DT_Q8_0,
                                      TLM_DT_Q4_0, TLM_DT_Q4_K, TLM_DT_Q5_K, TLM_DT_Q6_K};
    for (size_t i = 0; i < COUNT(types); i++)
        if (!k->matmul[types[i]] || !k->to_f32[types[i]]) return false;
    return k->isa && k->dot_f32 && k->axpy_f32 && k->attn_head[TLM_DT_F32] &&
           k->attn_head[TLM_DT_F16] && k->rmsnorm && k->layernorm && k->silu_mul &&
           k->gelu_tanh_mul && k->gelu_tanh && k->rope;
}

#if defined(__x86_64__) || defined(__i386__)
static const char *const level_names[] = {"ref", "avx2", "avx512"};

/* Detection against libgcc's CPUID and XCR0 checks; returns the best level's index. */
static int check_detection(void)
{
    __builtin_cpu_init();
    check(tlm_cpu_has(TLM_CPU_AVX2) == !!__builtin_cpu_supports("avx2"), "AVX2 detection");
    check(tlm_cpu_has(TLM_CPU_FMA) == !!__builtin_cpu_supports("fma"), "FMA detection");
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    check(tlm_cpu_has(TLM_CPU_AVX512) == avx512, "AVX-512 detection");
    check(tlm_cpu_has(TLM_CPU_AVX512_VNNI) == (avx512 && __builtin_cpu_supports("avx512vnni")),
          "AVX512_VNNI detection");
    bool avx2 = tlm_cpu_has(TLM_CPU_AVX2 | TLM_CPU_FMA | TLM_CPU_F16C);
    return avx512 && avx2 ? 2 : avx2 ? 1 : 0;
}
#elif defined(__aarch64__)
#include <sys/auxv.h>
static const char *const level_names[] = {"ref", "neon", "dotprod", "i8mm"};

/* Detection against the ID registers themselves (ID_AA64ISAR0_EL1.DP, ID_AA64ISAR1_EL1.I8MM),
 * which Linux lets EL0 read when it sets HWCAP_CPUID; returns the best level's index. */
static int check_detection(void)
{
    bool dp = tlm_cpu_has(TLM_CPU_DOTPROD), mm = tlm_cpu_has(TLM_CPU_I8MM);
    check(tlm_cpu_has(TLM_CPU_NEON), "AdvSIMD detection (every ARMv8-A core)");
#if defined(__linux__)
    if (getauxval(AT_HWCAP) & (1u << 11)) { /* HWCAP_CPUID */
        uint64_t isar0, isar1;
        __asm__("mrs %0, ID_AA64ISAR0_EL1" : "=r"(isar0));
        __asm__("mrs %0, ID_AA64ISAR1_EL1" : "=r"(isar1));
        check(dp == ((isar0 >> 44 & 15) >= 1), "DotProd detection (ISAR0.DP %d)",
              (int)(isar0 >> 44 & 15));
        check(mm == ((isar1 >> 52 & 15) >= 1), "I8MM detection (ISAR1.I8MM %d)",
              (int)(isar1 >> 52 & 15));
    } else {
        SKIP(2, "the ID registers are not readable here (no HWCAP_CPUID)");
    }
#else
    SKIP(2, "no independent view of the ID registers on this OS");
#endif
    printf("cpu: neon%s%s\n", dp ? " dotprod" : "", mm ? " i8mm" : "");
    return dp && mm ? 3 : dp ? 2 : 1;
}
#else
static const char *const level_names[] = {"ref"};
static int check_detection(void) { return 0; }
#endif

int main(void)
{
    int best = check_detection();
    check(tlm_cpu_has(0), "the empty feature set is always there");

    const tlm_kernels *k = tlm_kernels_get();
    check(k != NULL && k == tlm_kernels_get(), "tlm_kernels_get: one table");
    check(slots_filled(k), "tlm_kernels_get: every implemented slot filled");
    check(strcmp(tlm_kernels_isa(), k->isa) == 0, "tlm_kernels_isa names the table's level");
    tlm_kernels env;
    tlm_kernels_fill(&env, getenv("TLM_ISA"));
    const char *isa_env = getenv("TLM_ISA");
    check(strcmp(env.isa, k->isa) == 0, "the table follows TLM_ISA=%s", isa_env ? isa_env : "");

    /* unset or unknown: the best level; a named level: that one, never above the CPU's */
    const int n_levels = (int)COUNT(level_names);
    for (int i = -2; i < n_levels; i++) {
        const char *force = i == -2 ? NULL : i == -1 ? "bogus" : level_names[i];
        const char *want = level_names[i < 0 || i > best ? best : i];
        tlm_kernels t;
        tlm_kernels_fill(&t, force);
        check(strcmp(t.isa, want) == 0 && slots_filled(&t), "TLM_ISA=%s gives %s, want %s",
              force ? force : "(unset)", t.isa, want);
    }
    tlm_kernels ref;
    tlm_kernels_fill(&ref, "ref");
    check(ref.matmul[TLM_DT_F16] == tlm_matmul_f16_ref &&
              ref.attn_head[TLM_DT_F32] == tlm_attn_head_f32_ref,
          "TLM_ISA=ref: reference kernels");
    return finish("dispatch");
}
