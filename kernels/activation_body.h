/* activation_body.h - SiLU and tanh-GELU, written once in the vector API of simd_<isa>.h and
 * compiled per ISA by activation_<isa>.c.
 *
 * GELU uses 0.5 (1 + tanh(u)) = sigmoid(2u), the same function as the reference's tanh
 * form: x * sigmoid(2u) needs one exp and keeps its relative accuracy where 1 + tanh(u)
 * cancels (x << 0). */
#include "kernels_impl.h"

enum { SILU, GELU };

/* act(x): x * sigmoid(x) for SiLU, x * sigmoid(2 sqrt(2/pi) (x + 0.044715 x^3)) for GELU. */
TLM_INLINE vf act(int kind, vf x)
{
    if (kind == SILU) return vf_mul_sigmoid(x, x);
    vf x3 = vf_mul(vf_mul(x, x), x);
    vf u = vf_fma(vf_set1(0.044715f), x3, x);
    return vf_mul_sigmoid(x, vf_mul(vf_set1(2 * 0.7978845608028654f), u));
}

/* gate = act(gate) * up, or act(gate) alone when up is NULL. */
TLM_INLINE void apply(int kind, float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL) {
        vf g = act(kind, vf_load(gate + i));
        if (up) g = vf_mul(g, vf_load(up + i));
        vf_store(gate + i, g);
    }
    if (i < n) {
        vmask m = vmask_n(n - i);
        vf g = act(kind, vf_load_m(gate + i, m));
        if (up) g = vf_mul(g, vf_load_m(up + i, m));
        vf_store_m(gate + i, g, m);
    }
}

void TLM_ISA_FN(tlm_silu_mul)(float *gate, const float *up, int64_t n) { apply(SILU, gate, up, n); }

void TLM_ISA_FN(tlm_gelu_tanh_mul)(float *gate, const float *up, int64_t n)
{
    apply(GELU, gate, up, n);
}

void TLM_ISA_FN(tlm_gelu_tanh)(float *x, int64_t n) { apply(GELU, x, NULL, n); }
