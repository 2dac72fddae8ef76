/* attention_ref.c - reference attention for one head and one query, all in float; keys and
 * values are read from an F32, F16 or Q8_0 cache. */
#include <math.h>

#include "kernels_impl.h"

/* Element i of a cache row of `type`. */
static inline float element(int type, const void *row, int64_t i)
{
    if (type == TLM_DT_F32) return ((const float *)row)[i];
    if (type == TLM_DT_F16) return tlm_f16_to_f32(((const uint16_t *)row)[i]);
    const uint8_t *b = (const uint8_t *)row + i / 32 * 34; /* Q8_0: f16 scale, 32 int8 */
    return tlm_f16_to_f32((uint16_t)(b[0] | b[1] << 8)) * (float)(int8_t)b[2 + i % 32];
}

static inline const void *row_at(int type, const void *base, int64_t j, int64_t stride)
{
    return (const char *)base + tlm_kv_bytes(type, (uint64_t)(j * stride));
}

static void attn_head(int type, float *out, const float *q, const void *k, const void *v,
                      int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                      float *scores)
{
    float max = -INFINITY;
    for (int32_t j = 0; j < n_keys; j++) {
        const void *kj = row_at(type, k, j, kv_stride);
        float s = 0.0f;
        for (int32_t d = 0; d < head_dim; d++)
            s += q[d] * element(type, kj, d);
        scores[j] = s * scale;
        if (scores[j] > max) max = scores[j];
    }
    /* subtract the max so exp() cannot overflow; the largest weight becomes exactly 1 */
    float sum = 0.0f;
    for (int32_t j = 0; j < n_keys; j++) {
        scores[j] = expf(scores[j] - max);
        sum += scores[j];
    }
    for (int32_t d = 0; d < head_dim; d++)
        out[d] = 0.0f;
    for (int32_t j = 0; j < n_keys; j++) {
        const void *vj = row_at(type, v, j, kv_stride);
        for (int32_t d = 0; d < head_dim; d++)
            out[d] += scores[j] * element(type, vj, d);
    }
    for (int32_t d = 0; d < head_dim; d++)
        out[d] /= sum;
}

void tlm_attn_head_f32_ref(float *out, const float *q, const void *k, const void *v,
                           int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                           float *scores)
{
    attn_head(TLM_DT_F32, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}

void tlm_attn_head_f16_ref(float *out, const float *q, const void *k, const void *v,
                           int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                           float *scores)
{
    attn_head(TLM_DT_F16, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}

void tlm_attn_head_q8_0_ref(float *out, const float *q, const void *k, const void *v,
                            int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                            float *scores)
{
    attn_head(TLM_DT_Q8_0, out, q, k, v, kv_stride, n_keys, head_dim, scale, scores);
}
