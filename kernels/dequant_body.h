/* dequant_body.h - to_f32 for the quantized weight types, written once in the vector API of
 * simd_<isa>.h and compiled per ISA by dequant_<isa>.c. The same float operations as
 * dequant_ref.c in the same order (scales multiplied in scalar first), so the same bits.
 * Used for embedding rows: simple rather than fast. Elements go by in runs of 16 bytes of
 * levels, VL at a time. */
#include "kernels_impl.h"
#include "quant.h"

TLM_INLINE vi low4(vi v) { return vi_and(v, vi_set1(15)); }
TLM_INLINE vi high4(vi v) { return vi_shr(v, 4); }

/* out[0, VL) = scale * level - min, exactly as the reference rounds it. */
TLM_INLINE void put(float *out, vi level, float scale, float min)
{
    vf v = vf_mul(vf_set1(scale), vi_to_f32(level));
    vf_store(out, vf_sub(v, vf_set1(min)));
}

/* out[0, VL) = scale * level (no subtraction: -0 stays -0 as in the reference). */
TLM_INLINE void put_sym(float *out, vi level, float scale)
{
    vf_store(out, vf_mul(vf_set1(scale), vi_to_f32(level)));
}

void TLM_ISA_FN(tlm_to_f32_q8_0)(float *out, const void *src, int64_t n)
{
    const block_q8_0 *b = src;
    for (int64_t k = 0; k < n / QK8_0; k++, out += QK8_0) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < QK8_0; i += VL)
            put_sym(out + i, vi_load_i8(b[k].qs + i), d);
    }
}

void TLM_ISA_FN(tlm_to_f32_q4_0)(float *out, const void *src, int64_t n)
{
    const block_q4_0 *b = src;
    const vi eight = vi_set1(8);
    for (int64_t k = 0; k < n / QK4_0; k++, out += QK4_0) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int i = 0; i < 16; i += VL) {
            vi q = vi_load_u8(b[k].qs + i);
            put_sym(out + i, vi_sub(low4(q), eight), d);
            put_sym(out + 16 + i, vi_sub(high4(q), eight), d);
        }
    }
}

/* Sub-block s scale and min of a Q4_K / Q5_K block (as quant_unpack.h: k4_scale_min). */
static void scale_min(const uint8_t *scales, int s, int *sc, int *m)
{
    if (s < 4) {
        *sc = scales[s] & 63;
        *m = scales[s + 4] & 63;
    } else {
        *sc = (scales[s + 4] & 15) | (scales[s - 4] >> 6) << 4;
        *m = (scales[s + 4] >> 4) | (scales[s] >> 6) << 4;
    }
}

/* Q4_K and Q5_K (qh NULL for Q4_K). */
static void to_f32_k_affine(float *out, uint16_t dh, uint16_t dminh, const uint8_t *scales,
                            const uint8_t *qh, const uint8_t *qs)
{
    float d = tlm_f16_to_f32(dh), dmin = tlm_f16_to_f32(dminh);
    const vi one = vi_set1(1);
    for (int j = 0; j < 4; j++) {
        int sc[2], m[2];
        scale_min(scales, 2 * j, &sc[0], &m[0]);
        scale_min(scales, 2 * j + 1, &sc[1], &m[1]);
        for (int l = 0; l < 32; l += VL) {
            vi q = vi_load_u8(qs + 32 * j + l);
            vi lo = low4(q), hi = high4(q);
            if (qh) {
                vi h = vi_load_u8(qh + l);
                lo = vi_or(lo, vi_shl(vi_and(vi_shr(h, 2 * j), one), 4));
                hi = vi_or(hi, vi_shl(vi_and(vi_shr(h, 2 * j + 1), one), 4));
            }
            put(out + 64 * j + l, lo, d * (float)sc[0], dmin * (float)m[0]);
            put(out + 64 * j + 32 + l, hi, d * (float)sc[1], dmin * (float)m[1]);
        }
    }
}

void TLM_ISA_FN(tlm_to_f32_q4_K)(float *out, const void *src, int64_t n)
{
    const block_q4_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++)
        to_f32_k_affine(out + k * QK_K, b[k].d, b[k].dmin, b[k].scales, NULL, b[k].qs);
}

void TLM_ISA_FN(tlm_to_f32_q5_K)(float *out, const void *src, int64_t n)
{
    const block_q5_K *b = src;
    for (int64_t k = 0; k < n / QK_K; k++)
        to_f32_k_affine(out + k * QK_K, b[k].d, b[k].dmin, b[k].scales, b[k].qh, b[k].qs);
}

void TLM_ISA_FN(tlm_to_f32_q6_K)(float *out, const void *src, int64_t n)
{
    const block_q6_K *b = src;
    const vi three = vi_set1(3), off = vi_set1(32);
    for (int64_t k = 0; k < n / QK_K; k++, out += QK_K) {
        float d = tlm_f16_to_f32(b[k].d);
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l += VL) {
                vi a = vi_load_u8(b[k].ql + 64 * h + l);
                vi c = vi_load_u8(b[k].ql + 64 * h + 32 + l);
                vi e = vi_load_u8(b[k].qh + 32 * h + l);
                vi lo4[4] = {low4(a), low4(c), high4(a), high4(c)};
                for (int g = 0; g < 4; g++) { /* elements 128h + 32g + l */
                    vi q = vi_or(lo4[g], vi_shl(vi_and(vi_shr(e, 2 * g), three), 4));
                    int s = 8 * h + 2 * g + l / 16;
                    put_sym(out + 128 * h + 32 * g + l, vi_sub(q, off), d * (float)b[k].scales[s]);
                }
            }
    }
}
