/* kv_store.c - one row of keys or values written into the cache in the cache's element type.
 * Its own file because the forward pass, the cache edits and the context all write rows; the
 * conversion itself is the kernel table's store_kv slot (F32, F16 or Q8_0, as SIMD as the CPU
 * allows, the same bits on every level). */
#include "context.h"
#include "kernels.h"

void tlm_store_kv(tlm_type type, void *dst, const float *src, int64_t n)
{
    tlm_kernels_get()->store_kv[type](dst, src, n);
}
