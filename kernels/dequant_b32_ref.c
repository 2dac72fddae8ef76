/* dequant_b32_ref.c - reference to_f32 of Q4_1, Q5_0, Q5_1 and IQ4_NL (quant_b32.h), as
 * ggml's dequantize_row_* defines them: the product rounded to float, then + m rounded again
 * (two roundings, never fused), so the same bits as ggml's reference on every block. */
#include "kernels_impl.h"
#include "quant_b32.h"

/* Types with a min (Q4_1, Q5_1): level * d + m. */
static void affine(int type, float *out, const void *src, int64_t n, int64_t block_bytes)
{
    const char *p = src;
    for (int64_t k = 0; k < n / QK_B32; k++, p += block_bytes) {
        uint16_t dh, mh;
        __builtin_memcpy(&dh, p, 2);
        __builtin_memcpy(&mh, p + 2, 2);
        const float d = tlm_f16_to_f32(dh), m = tlm_f16_to_f32(mh);
        for (int i = 0; i < QK_B32; i++) {
            const float v = (float)b32_level(type, p, i) * d;
            out[k * QK_B32 + i] = v + m;
        }
    }
}

/* Types without (Q5_0, IQ4_NL): level * d. */
static void scaled(int type, float *out, const void *src, int64_t n, int64_t block_bytes)
{
    const char *p = src;
    for (int64_t k = 0; k < n / QK_B32; k++, p += block_bytes) {
        uint16_t dh;
        __builtin_memcpy(&dh, p, 2);
        const float d = tlm_f16_to_f32(dh);
        for (int i = 0; i < QK_B32; i++)
            out[k * QK_B32 + i] = (float)b32_level(type, p, i) * d;
    }
}

void tlm_to_f32_q4_1_ref(float *out, const void *src, int64_t n)
{
    affine(TLM_DT_Q4_1, out, src, n, sizeof(block_q4_1));
}

void tlm_to_f32_q5_0_ref(float *out, const void *src, int64_t n)
{
    scaled(TLM_DT_Q5_0, out, src, n, sizeof(block_q5_0));
}

void tlm_to_f32_q5_1_ref(float *out, const void *src, int64_t n)
{
    affine(TLM_DT_Q5_1, out, src, n, sizeof(block_q5_1));
}

void tlm_to_f32_iq4_nl_ref(float *out, const void *src, int64_t n)
{
    scaled(TLM_DT_IQ4_NL, out, src, n, sizeof(block_iq4_nl));
}
