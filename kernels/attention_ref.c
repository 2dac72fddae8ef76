/* attention_ref.c - reference attention for one head and one query, all in float. */
#include <math.h>

#include "kernels_impl.h"

void tlm_attn_head_ref(float *out, const float *q, const float *k, const float *v,
                       int64_t kv_stride, int32_t n_keys, int32_t head_dim, float scale,
                       float *scores)
{
    float max = -INFINITY;
    for (int32_t j = 0; j < n_keys; j++) {
        const float *kj = k + j * kv_stride;
        float s = 0.0f;
        for (int32_t d = 0; d < head_dim; d++)
            s += q[d] * kj[d];
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
        const float *vj = v + j * kv_stride;
        for (int32_t d = 0; d < head_dim; d++)
            out[d] += scores[j] * vj[d];
    }
    for (int32_t d = 0; d < head_dim; d++)
        out[d] /= sum;
}
