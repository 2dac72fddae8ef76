/* norm_body.h - RMSNorm and LayerNorm, written once in the vector API of simd_<isa>.h and
 * compiled per ISA by norm_<isa>.c. Sums are float, the lanes added in a fixed tree;
 * LayerNorm takes the variance in a second pass over x - mean, as the reference. */
#include <math.h>

#include "kernels_impl.h"

/* (x - shift) * scale * w + b for the lanes m of one vector at offset i. */
TLM_INLINE vf scale_shift_vec(const float *x, float shift, float scale, const float *w,
                              const float *b, int64_t i, vmask m)
{
    vf v = vf_mul(vf_sub(vf_load_m(x + i, m), vf_set1(shift)), vf_set1(scale));
    if (w) v = vf_mul(v, vf_load_m(w + i, m));
    if (b) v = vf_add(v, vf_load_m(b + i, m));
    return v;
}

/* out = (x - shift) * scale * w + b over n elements; w and b may be NULL. out may be x. */
static void scale_shift(float *out, const float *x, float shift, float scale, const float *w,
                        const float *b, int64_t n)
{
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        vf_store(out + i, scale_shift_vec(x, shift, scale, w, b, i, vmask_all()));
    if (i < n) {
        vmask m = vmask_n(n - i);
        vf_store_m(out + i, scale_shift_vec(x, shift, scale, w, b, i, m), m);
    }
}

/* Sum of (x[i] - shift)^2, or of x[i] - shift when !square. */
static float lane_sum(const float *x, float shift, bool square, int64_t n)
{
    vf s0 = vf_zero(), s1 = s0, sh = vf_set1(shift);
    int64_t i = 0;
    for (; i + 2 * VL <= n; i += 2 * VL) {
        vf a = vf_sub(vf_load(x + i), sh);
        vf b = vf_sub(vf_load(x + i + VL), sh);
        s0 = square ? vf_fma(a, a, s0) : vf_add(s0, a);
        s1 = square ? vf_fma(b, b, s1) : vf_add(s1, b);
    }
    for (; i < n; i += VL) {
        vmask m = vmask_n(n - i < VL ? n - i : VL);
        /* lanes past n must add nothing: zero them after the subtraction */
        vf a = vf_keep_m(m, vf_sub(vf_load_m(x + i, m), sh));
        s0 = square ? vf_fma(a, a, s0) : vf_add(s0, a);
    }
    return vf_hsum(vf_add(s0, s1));
}

void TLM_ISA_FN(tlm_rmsnorm)(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = lane_sum(x, 0.0f, true, n);
    scale_shift(out, x, 0.0f, 1.0f / sqrtf(ss / (float)n + eps), w, NULL, n);
}

void TLM_ISA_FN(tlm_layernorm)(float *out, const float *x, const float *w, const float *b,
                               int64_t n, float eps)
{
    float mean = lane_sum(x, 0.0f, false, n) / (float)n;
    float var = lane_sum(x, mean, true, n) / (float)n;
    scale_shift(out, x, mean, 1.0f / sqrtf(var + eps), w, b, n);
}
