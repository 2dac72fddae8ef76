/* rope_neon.c - the rope slot on AArch64: 4 pairs per step. Rotate-half (neox) pairs are two
 * plain loads (x[i..], x[i + half..]); adjacent pairs are one LD2 that splits even and odd
 * elements. Each element takes the reference's expressions, unfused (ISO C: no contraction),
 * so the result is the reference's bits. No x86 SIMD rope exists to share a body with: rope
 * is a small part of a token's time. */
#include "simd_neon.h"

#include "kernels_impl.h"

/* (a, b) rotated by (c, s): a c - b s, b c + a s, as the reference rounds them */
TLM_INLINE void rot4(float32x4_t *a, float32x4_t *b, float32x4_t c, float32x4_t s)
{
    float32x4_t a0 = *a, b0 = *b;
    *a = vsubq_f32(vmulq_f32(a0, c), vmulq_f32(b0, s));
    *b = vaddq_f32(vmulq_f32(b0, c), vmulq_f32(a0, s));
}

TLM_INLINE void rot1(float *a, float *b, float c, float s)
{
    float a0 = *a, b0 = *b;
    *a = a0 * c - b0 * s;
    *b = b0 * c + a0 * s;
}

void tlm_rope_neon(float *x, int32_t n_heads, int32_t head_dim, int32_t rope_dim, const float *cos,
                   const float *sin, bool neox)
{
    const int32_t half = rope_dim / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *xh = x + (int64_t)h * head_dim;
        int32_t i = 0;
        if (neox) {
            for (; i + 4 <= half; i += 4) {
                float32x4_t a = vld1q_f32(xh + i), b = vld1q_f32(xh + half + i);
                rot4(&a, &b, vld1q_f32(cos + i), vld1q_f32(sin + i));
                vst1q_f32(xh + i, a);
                vst1q_f32(xh + half + i, b);
            }
            for (; i < half; i++)
                rot1(&xh[i], &xh[i + half], cos[i], sin[i]);
        } else {
            for (; i + 4 <= half; i += 4) {
                float32x4x2_t p = vld2q_f32(xh + 2 * i); /* val[0]: x[2i], val[1]: x[2i + 1] */
                rot4(&p.val[0], &p.val[1], vld1q_f32(cos + i), vld1q_f32(sin + i));
                vst2q_f32(xh + 2 * i, p);
            }
            for (; i < half; i++)
                rot1(&xh[2 * i], &xh[2 * i + 1], cos[i], sin[i]);
        }
    }
}
