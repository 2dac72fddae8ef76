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
    return k->isa && k->dot_f32 && k->axpy_f32 && k->attn_head[TLM_DT_F32] && k->attn_head[TLM_DT_F16] && k->rmsnorm && k->layernorm &&
           k->silu_mul && k->gelu_tanh_mul && k->gelu_tanh && k->rope;
}

int main(void)
{
    __builtin_cpu_init();
    check(tlm_cpu_has(TLM_CPU_AVX2) == !!__builtin_cpu_supports("avx2"), "AVX2 detection");
    check(tlm_cpu_has(TLM_CPU_FMA) == !!__builtin_cpu_supports("fma"), "FMA detection");
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    check(tlm_cpu_has(TLM_CPU_AVX512) == avx512, "AVX-512 detection");
    check(tlm_cpu_has(TLM_CPU_AVX512_VNNI) == (avx512 && __builtin_cpu_supports("avx512vnni")),
          "AVX512_VNNI detection");
    check(tlm_cpu_has(0), "the empty feature set is always there");

    const tlm_kernels *k = tlm_kernels_get();
    check(k != NULL && k == tlm_kernels_get(), "tlm_kernels_get: one table");
    check(slots_filled(k), "tlm_kernels_get: every implemented slot filled");
    check(strcmp(tlm_kernels_isa(), k->isa) == 0, "tlm_kernels_isa names the table's level");
    tlm_kernels env;
    tlm_kernels_fill(&env, getenv("TLM_ISA"));
    const char *isa_env = getenv("TLM_ISA");
    check(strcmp(env.isa, k->isa) == 0, "the table follows TLM_ISA=%s", isa_env ? isa_env : "");

    const char *best = avx512 && tlm_cpu_has(TLM_CPU_AVX2 | TLM_CPU_FMA | TLM_CPU_F16C) ? "avx512"
                       : tlm_cpu_has(TLM_CPU_AVX2 | TLM_CPU_FMA | TLM_CPU_F16C)         ? "avx2"
                                                                                        : "ref";
    static const struct {
        const char *force, *want; /* want NULL: the best level */
    } levels[] = {
        {NULL, NULL}, {"bogus", NULL}, {"avx512", NULL}, {"ref", "ref"}, {"avx2", "avx2"}};
    for (size_t i = 0; i < COUNT(levels); i++) {
        tlm_kernels t;
        tlm_kernels_fill(&t, levels[i].force);
        const char *want = levels[i].want ? levels[i].want : best;
        if (strcmp(want, "avx2") == 0 && strcmp(best, "ref") == 0) want = "ref"; /* never above */
        check(strcmp(t.isa, want) == 0 && slots_filled(&t), "TLM_ISA=%s gives %s, want %s",
              levels[i].force ? levels[i].force : "(unset)", t.isa, want);
    }
    tlm_kernels ref;
    tlm_kernels_fill(&ref, "ref");
    check(ref.matmul[TLM_DT_F16] == tlm_matmul_f16_ref && ref.attn_head[TLM_DT_F32] == tlm_attn_head_f32_ref,
          "TLM_ISA=ref: reference kernels");
    return finish("dispatch");
}
