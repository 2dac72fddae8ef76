/* dequant_ref.c - reference to_f32 for the quantized weight types: each element rebuilt from
 * its level and scales as quant_unpack.h describes. The products are float, rounded in the
 * order written ((d * sc) * level - dmin * m for Q4_K / Q5_K, (d * sc) * (level - 32) for
 * Q6_K); the SIMD versions do the same operations, so they give the same bits. */
#include "kernels_impl.h"
#include "quant_unpack.h"

void tlm_to_f32_q8_0_ref(float *out, const void *src, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t k = 0; k < n / QK8_0; k++) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < QK8_0; i++)
            out[k * QK8_0 + i] = d * (float)b[k].qs[i];
    }
}

void tlm_to_f32_q4_0_ref(float *out, const void *src, int64_t n)
{
    const block_q4_0 *b = src;
    for (int64_t k = 0; k < n / QK4_0; k++) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < QK4_0; i++)
            out[k * QK4_0 + i] = d * (float)(q4_0_level(&b[k], i) - 8);
    }
}

void tlm_to_f32_q4_K_ref(float *out, const void *src, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++) {
        float d = tlm_f16_to_f32(b[k].d), dmin = tlm_f16_to_f32(b[k].dmin);
        for (int i = 0; i < QK_K; i++) {
            int sc, m;
            k4_scale_min(b[k].scales, i / 32, &sc, &m);
            out[k * QK_K + i] = d * (float)sc * (float)q4_K_level(&b[k], i) - dmin * (float)m;
        }
    }
}

void tlm_to_f32_q5_K_ref(float *out, const void *src, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++) {
        float d = tlm_f16_to_f32(b[k].d), dmin = tlm_f16_to_f32(b[k].dmin);
        for (int i = 0; i < QK_K; i++) {
            int sc, m;
            k4_scale_min(b[k].scales, i / 32, &sc, &m);
            out[k * QK_K + i] = d * (float)sc * (float)q5_K_level(&b[k], i) - dmin * (float)m;
        }
    }
}

void tlm_to_f32_q6_K_ref(float *out, const void *src, int64_t n)
{
    const block_q6_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < QK_K; i++)
            out[k * QK_K + i] = d * (float)b[k].scales[i / 16] * (float)(q6_K_level(&b[k], i) - 32);
    }
}
