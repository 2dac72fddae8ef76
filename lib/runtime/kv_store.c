/* kv_store.c - one row of keys or values written into the cache in the cache's element type.
 * Its own file because the forward pass, the cache edits and the context all write rows. */
#include <string.h>

#include "context.h"
#include "quant.h"

void tlm_store_kv(tlm_type type, void *dst, const float *src, int64_t n)
{
    if (type == TLM_TYPE_F32) {
        memcpy(dst, src, (size_t)n * sizeof(float));
    } else if (type == TLM_TYPE_F16) {
        uint16_t *h = dst;
        for (int64_t i = 0; i < n; i++) h[i] = tlm_f32_to_f16(src[i]);
    } else {
        tlm_quantize_q8_0_ref(dst, src, n);
    }
}
