/* dequant_lowk_ref.c - reference to_f32 of Q2_K, Q3_K and IQ4_XS (layouts in quant_lowk.h).
 * Each element is rounded in the order GGUF's own dequantizer writes it: the sub-block's
 * scale first (d * sc), then times the level, then minus dmin * m for Q2_K alone (so a
 * level of 0 under a negative scale stays -0 for the others, as there). */
#include "kernels_impl.h"
#include "quant.h"

static void to_f32(int type, int block_bytes, float *out, const void *src, int64_t n)
{
    tlm_lowk_unit u;
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K) {
        tlm_lowk_unpack(type, &u, (const char *)src + k * block_bytes);
        const float d = tlm_f16_to_f32(u.d), dmin = tlm_f16_to_f32(u.dmin);
        for (int s = 0; s < 16; s++) {
            const float dl = d * (float)u.sc[s], ml = dmin * (float)u.m[s];
            for (int i = 16 * s; i < 16 * s + 16; i++)
                out[i] = u.has_min ? dl * (float)u.w[i] - ml : dl * (float)u.w[i];
        }
    }
}

void tlm_to_f32_q2_K_ref(float *out, const void *src, int64_t n)
{
    to_f32(TLM_DT_Q2_K, sizeof(block_q2_K), out, src, n);
}

void tlm_to_f32_q3_K_ref(float *out, const void *src, int64_t n)
{
    to_f32(TLM_DT_Q3_K, sizeof(block_q3_K), out, src, n);
}

void tlm_to_f32_iq4_xs_ref(float *out, const void *src, int64_t n)
{
    to_f32(TLM_DT_IQ4_XS, sizeof(block_iq4_xs), out, src, n);
}
