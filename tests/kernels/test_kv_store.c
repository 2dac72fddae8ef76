/* test_kv_store.c - store_kv (a float row into a KV cache's element type) of every SIMD level
 * against the reference, bit for bit: F16 on every special value (NaN, Inf, subnormals,
 * halfway cases, overflow) and Q8_0 on blocks that hit its edges (all zero, tiny, huge,
 * Inf, NaN elements, exact halves); odd lengths, unaligned pointers, bytes past the end
 * untouched. The reference itself is checked in test_convert.c and test_quant_ref.c. */
#include "isa_tables.h"
#include "quant.h"

static const int64_t lengths[] = {1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65, 96, 257, 4099};

/* n floats of mixed kinds: ordinary, special and rounding-edge values. */
static void fill_hard(float *x, int64_t n, int kind)
{
    static const uint32_t special[] = {0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x7f800000u,
                                       0xff800000u, 0x00000001u, 0x33000000u, 0x387fc000u,
                                       0x477ff000u, 0x477fefffu, 0x80000000u, 0x3f801000u};
    for (int64_t i = 0; i < n; i++) {
        float f = rng_float(-3.0f, 3.0f);
        uint64_t r = rng_next() % 16;
        if (kind == 1 && r < 3) memcpy(&f, &special[rng_next() % COUNT(special)], 4);
        if (kind == 2) f *= 1e-30f; /* a block too small to scale */
        if (kind == 3 && r == 0) f = 1e30f;
        if (kind == 4) f = (float)((int)(rng_next() % 255) - 127) * 0.5f; /* exact halves */
        x[i] = f;
    }
}

static void test_type(const tlm_kernels *ref, const isa_table simd[N_SIMD], int type)
{
    for (size_t li = 0; li < COUNT(lengths); li++) {
        int64_t n = lengths[li];
        if (type == TLM_DT_Q8_0 && n % 32) continue;
        for (int kind = 0; kind < 5; kind++) {
            float *x = buf_new(n, 1);
            fill_hard(x, n, kind);
            size_t bytes = (size_t)tlm_kv_bytes(type, (uint64_t)n);
            unsigned char *want = malloc(bytes + 8), *got = malloc(bytes + 9);
            memset(want, 0xa5, bytes + 8);
            ref->store_kv[type](want, x, n);
            for (int s = 0; s < N_SIMD; s++) {
                if (!simd[s].available) {
                    n_skip++;
                    continue;
                }
                unsigned char *g = got + 1; /* unaligned */
                memset(got, 0xa5, bytes + 9);
                simd[s].k.store_kv[type](g, x, n);
                check(memcmp(g, want, bytes + 8) == 0, "%s store_kv type %d n %lld kind %d",
                      simd[s].name, type, (long long)n, kind);
            }
            free(want);
            free(got);
            buf_free(x);
        }
    }
}

/* The reference slot is the reference quantizer and conversion. */
static void test_ref(const tlm_kernels *ref)
{
    float x[64];
    fill_hard(x, 64, 1);
    uint16_t h[64];
    ref->store_kv[TLM_DT_F16](h, x, 64);
    bool ok = true;
    for (int i = 0; i < 64; i++)
        ok = ok && h[i] == tlm_f32_to_f16(x[i]);
    check(ok, "ref store_kv F16 is tlm_f32_to_f16");
    block_q8_0 a[2], b[2];
    ref->store_kv[TLM_DT_Q8_0](a, x, 64);
    tlm_quantize_q8_0_ref(b, x, 64);
    check(memcmp(a, b, sizeof a) == 0, "ref store_kv Q8_0 is tlm_quantize_q8_0_ref");
    float y[64];
    ref->store_kv[TLM_DT_F32](y, x, 64);
    check(memcmp(x, y, sizeof x) == 0, "ref store_kv F32 copies");
}

int main(void)
{
    tlm_kernels ref;
    isa_table simd[N_SIMD];
    tables_get(&ref, simd);
    test_ref(&ref);
    test_type(&ref, simd, TLM_DT_F16);
    test_type(&ref, simd, TLM_DT_Q8_0);
    test_type(&ref, simd, TLM_DT_F32);
    return finish("kv_store");
}
