/* dequant_neon.c - to_f32 of the quantized types with NEON: the levels of a block unpacked 16 at
 * a time (quant_unpack_neon.h), widened to float and scaled with the reference's operations
 * in its order ((d * sc) * level - dmin * m; no fused multiply-add), so the bits are the
 * reference's. */
#include "kernels_impl.h"
#include "simd_neon.h"

#include "quant_unpack_neon.h"

/* out[0, 16) = a * (float)w[i] - b. */
TLM_INLINE void scale16(float *out, int8x16_t w, float a, float b)
{
    int16x8_t lo = vmovl_s8(vget_low_s8(w)), hi = vmovl_high_s8(w);
    int32x4_t q[4] = {vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)),
                      vmovl_high_s16(hi)};
    for (int i = 0; i < 4; i++) {
        float32x4_t v = vmulq_n_f32(vcvtq_f32_s32(q[i]), a);
        vst1q_f32(out + 4 * i, b != 0.0f ? vsubq_f32(v, vdupq_n_f32(b)) : v);
    }
}

void tlm_to_f32_q8_0_neon(float *out, const void *src, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t k = 0; k < n / QK8_0; k++, out += QK8_0) {
        float d = f16_at((const uint8_t *)&b[k].d);
        scale16(out, vld1q_s8(b[k].qs), d, 0.0f);
        scale16(out + 16, vld1q_s8(b[k].qs + 16), d, 0.0f);
    }
}

void tlm_to_f32_q4_0_neon(float *out, const void *src, int64_t n)
{
    const block_q4_0 *b = src;
    for (int64_t k = 0; k < n / QK4_0; k++, out += QK4_0) {
        float d = f16_at((const uint8_t *)&b[k].d);
        int8x16_t w[2];
        unpack_q4_0(w, &b[k]);
        scale16(out, vsubq_s8(w[0], vdupq_n_s8(8)), d, 0.0f);
        scale16(out + 16, vsubq_s8(w[1], vdupq_n_s8(8)), d, 0.0f);
    }
}

/* Q4_K and Q5_K: element = (d * sc) * level - dmin * m per sub-block of 32. */
TLM_INLINE void k4_to_f32(float *out, const uint8_t *dh, const uint8_t *dminh,
                          const uint8_t *scales, const uint8_t *qs, const uint8_t *qh)
{
    float d = f16_at(dh), dmin = f16_at(dminh);
    int8x16_t w[16];
    unpack_k4(w, qs, qh);
    for (int s = 0; s < 8; s++) {
        int sc, m;
        k4_scale_min(scales, s, &sc, &m);
        float a = d * (float)sc, c = dmin * (float)m;
        for (int h = 0; h < 2; h++) {
            int16x8_t lo = vmovl_s8(vget_low_s8(w[2 * s + h])), hi = vmovl_high_s8(w[2 * s + h]);
            int32x4_t q[4] = {vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo),
                              vmovl_s16(vget_low_s16(hi)), vmovl_high_s16(hi)};
            for (int i = 0; i < 4; i++)
                vst1q_f32(out + 32 * s + 16 * h + 4 * i,
                          vsubq_f32(vmulq_n_f32(vcvtq_f32_s32(q[i]), a), vdupq_n_f32(c)));
        }
    }
}

void tlm_to_f32_q4_K_neon(float *out, const void *src, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K)
        k4_to_f32(out, (const uint8_t *)&b[k].d, (const uint8_t *)&b[k].dmin, b[k].scales,
                  b[k].qs, NULL);
}

void tlm_to_f32_q5_K_neon(float *out, const void *src, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K)
        k4_to_f32(out, (const uint8_t *)&b[k].d, (const uint8_t *)&b[k].dmin, b[k].scales,
                  b[k].qs, b[k].qh);
}

void tlm_to_f32_q6_K_neon(float *out, const void *src, int64_t n)
{
    const block_q6_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K) {
        float d = f16_at((const uint8_t *)&b[k].d);
        int8x16_t w[16];
        unpack_q6_K(w, &b[k]);
        for (int s = 0; s < 16; s++)
            scale16(out + 16 * s, w[s], d * (float)b[k].scales[s], 0.0f);
    }
}
