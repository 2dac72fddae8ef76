/* norm_ref.c - reference RMSNorm and LayerNorm.
 *
 * Sums are float, added in index order (as HF computes norms in float32); LayerNorm takes
 * the variance in a second pass over x - mean, which stays accurate when |mean| >> std. */
#include <math.h>

#include "kernels_impl.h"

void tlm_rmsnorm_ref(float *out, const float *x, const float *w, int64_t n, float eps)
{
    float ss = 0.0f;
    for (int64_t i = 0; i < n; i++)
        ss += x[i] * x[i];
    float inv = 1.0f / sqrtf(ss / (float)n + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * inv * (w ? w[i] : 1.0f);
}

void tlm_layernorm_ref(float *out, const float *x, const float *w, const float *b, int64_t n,
                       float eps)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += x[i];
    float mean = sum / (float)n;
    float var = 0.0f;
    for (int64_t i = 0; i < n; i++)
        var += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf(var / (float)n + eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = (x[i] - mean) * inv * (w ? w[i] : 1.0f) + (b ? b[i] : 0.0f);
}
