/* kv_store_body.h - a float row into a KV cache's element type (F16, Q8_0), written once in
 * the vector API of simd_<isa>.h and compiled per ISA by kv_store_<isa>.c. Bit for bit the
 * reference (kv_store_ref.c): the hardware f32 -> f16 conversion rounds to nearest even and
 * keeps NaNs as the reference does, and Q8_0 repeats tlm_quantize_q8_0_ref's operations
 * lane by lane (its max, its division by d, its clamp and its rounding of halves up). */
#include <stddef.h>
#include <string.h>

#include "kernels_impl.h"
#include "quant.h"

void TLM_ISA_FN(tlm_store_kv_f16)(void *dst, const float *src, int64_t n)
{
    uint16_t *h = dst;
    int64_t i = 0;
    for (; i + VL <= n; i += VL)
        vf_store_f16(h + i, vf_load(src + i));
    if (i < n) vf_store_f16_m(h + i, vf_load_m(src + i, vmask_n(n - i)), vmask_n(n - i));
}

void TLM_ISA_FN(tlm_store_kv_q8_0)(void *dst, const float *src, int64_t n)
{
    enum { NV = QK8_0 / VL };
    /* blocks through byte pointers: a row may start at any byte (block_q8_0's members want 2) */
    uint8_t *out = dst;
    for (int64_t b = 0; b < n / QK8_0; b++, out += sizeof(block_q8_0)) {
        int8_t *qs = (int8_t *)out + offsetof(block_q8_0, qs);
        const float *x = src + b * QK8_0;
        vf v[NV], m = vf_zero();
        for (int j = 0; j < NV; j++) {
            v[j] = vf_load(x + VL * j);
            m = vf_max(vf_abs(v[j]), m); /* a NaN element is passed over, as in the reference */
        }
        uint16_t dh = tlm_f32_to_f16(vf_hmax(m) / 127.0f);
        float d = tlm_f16_to_f32(dh);
        memcpy(out + offsetof(block_q8_0, d), &dh, sizeof dh);
        if (!(d > 0.0f)) {
            memset(qs, 0, QK8_0);
            continue;
        }
        /* round_clamp(x / d, -127, 127): clamp (NaN gives -127), then (int)(v + 127 + 0.5) - 127 */
        const vf vd = vf_set1(d), lo = vf_set1(-127.0f), hi = vf_set1(127.0f), half = vf_set1(0.5f);
        for (int j = 0; j < NV; j++) {
            vf q = vf_min(vf_max(vf_div(v[j], vd), lo), hi);
            vi t = vf_trunc_i32(vf_add(vf_sub(q, lo), half));
            vi_store_i8(qs + VL * j, vi_add(t, vi_set1(-127)));
        }
    }
}
