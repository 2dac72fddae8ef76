/* matmul_ref.c - reference matmul: one float dot product per output, summed in index order.
 * Every output element is computed the same way whatever n_tok, r0 and r1 are. */
#include "kernels_impl.h"

/* Element i of a weight row, as float. */
static float weight_at(tlm_dtype type, const void *row, int64_t i)
{
    switch (type) {
    case TLM_DT_F16:
        return tlm_f16_to_f32(((const uint16_t *)row)[i]);
    case TLM_DT_BF16:
        return tlm_bf16_to_f32(((const uint16_t *)row)[i]);
    default:
        return ((const float *)row)[i];
    }
}

static void matmul(tlm_dtype type, float *y, int64_t ldy, const void *w, uint64_t w_row_bytes,
                   const float *x, int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    for (int64_t t = 0; t < n_tok; t++) {
        const float *xt = x + t * ldx;
        for (int64_t r = r0; r < r1; r++) {
            const void *row = (const char *)w + (uint64_t)r * w_row_bytes;
            float sum = 0.0f;
            for (int64_t i = 0; i < n_in; i++)
                sum += weight_at(type, row, i) * xt[i];
            y[t * ldy + r] = sum;
        }
    }
}

void tlm_matmul_f32_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                        int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(TLM_DT_F32, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_f16_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                        int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(TLM_DT_F16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}

void tlm_matmul_bf16_ref(float *y, int64_t ldy, const void *w, uint64_t w_row_bytes, const float *x,
                         int64_t ldx, int64_t n_tok, int64_t n_in, int64_t r0, int64_t r1)
{
    matmul(TLM_DT_BF16, y, ldy, w, w_row_bytes, x, ldx, n_tok, n_in, r0, r1);
}
