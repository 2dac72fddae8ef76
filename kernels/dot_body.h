/* dot_body.h - dot product and axpy, written once in the vector API of simd_<isa>.h and
 * compiled per ISA by dot_<isa>.c. */
#include "kernels_impl.h"

/* Four accumulators hide the FMA latency; their lanes are added in a fixed order. */
float TLM_ISA_FN(tlm_dot_f32)(const float *a, const float *b, int64_t n)
{
    vf s0 = vf_zero(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 4 * VL <= n; i += 4 * VL) {
        s0 = vf_fma(vf_load(a + i), vf_load(b + i), s0);
        s1 = vf_fma(vf_load(a + i + VL), vf_load(b + i + VL), s1);
        s2 = vf_fma(vf_load(a + i + 2 * VL), vf_load(b + i + 2 * VL), s2);
        s3 = vf_fma(vf_load(a + i + 3 * VL), vf_load(b + i + 3 * VL), s3);
    }
    for (; i + VL <= n; i += VL)
        s0 = vf_fma(vf_load(a + i), vf_load(b + i), s0);
    if (i < n) {
        vmask m = vmask_n(n - i);
        s1 = vf_fma(vf_load_m(a + i, m), vf_load_m(b + i, m), s1);
    }
    return vf_hsum(vf_add(vf_add(s0, s1), vf_add(s2, s3)));
}

void TLM_ISA_FN(tlm_axpy_f32)(float *y, float a, const float *x, int64_t n)
{
    vf av = vf_set1(a);
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        vf_store(y + i, vf_fma(av, vf_load(x + i), vf_load(y + i)));
    if (i < n) {
        vmask m = vmask_n(n - i);
        vf_store_m(y + i, vf_fma(av, vf_load_m(x + i, m), vf_load_m(y + i, m)), m);
    }
}
