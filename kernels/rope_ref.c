/* rope_ref.c - rotary position embedding, both pair layouts (see kernels.h). */
#include "kernels_impl.h"

void tlm_rope_ref(float *x, int32_t n_heads, int32_t head_dim, int32_t rope_dim, const float *cos,
                  const float *sin, bool neox)
{
    int32_t half = rope_dim / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *xh = x + (int64_t)h * head_dim;
        for (int32_t i = 0; i < half; i++) {
            /* neox rotates x[i] with x[i + half]; the adjacent layout x[2i] with x[2i + 1] */
            float *a = neox ? &xh[i] : &xh[2 * i];
            float *b = neox ? &xh[i + half] : &xh[2 * i + 1];
            float a0 = *a, b0 = *b;
            *a = a0 * cos[i] - b0 * sin[i];
            *b = b0 * cos[i] + a0 * sin[i];
        }
    }
}
