/* activation_ref.c - reference SiLU and tanh-approximated GELU, gated and plain. */
#include <math.h>

#include "kernels_impl.h"

static float silu(float x) { return x / (1.0f + expf(-x)); }

/* GELU, tanh form: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
static float gelu_tanh(float x)
{
    const float sqrt_2_over_pi = 0.7978845608028654f;
    return 0.5f * x * (1.0f + tanhf(sqrt_2_over_pi * (x + 0.044715f * x * x * x)));
}

void tlm_silu_mul_ref(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gate[i] = silu(gate[i]) * up[i];
}

void tlm_gelu_tanh_mul_ref(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gate[i] = gelu_tanh(gate[i]) * up[i];
}

void tlm_gelu_tanh_ref(float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        x[i] = gelu_tanh(x[i]);
}
