/* ktypes.h - the element types kernels read, numbered as GGUF numbers them.
 *
 * The one header of shared types that kernels see (they never see the public API). The
 * public tlm_dtype (include/tinylm.h) has the same values; lib/model/model.h checks that at
 * compile time. */
#ifndef TLM_KTYPES_H
#define TLM_KTYPES_H

typedef int tlm_dtype; /* one of TLM_DT_* */

enum {
    TLM_DT_F32 = 0,
    TLM_DT_F16 = 1,
    TLM_DT_Q4_0 = 2,
    TLM_DT_Q4_1 = 3,
    TLM_DT_Q5_0 = 6,
    TLM_DT_Q5_1 = 7,
    TLM_DT_Q8_0 = 8,
    TLM_DT_Q2_K = 10,
    TLM_DT_Q3_K = 11,
    TLM_DT_Q4_K = 12,
    TLM_DT_Q5_K = 13,
    TLM_DT_Q6_K = 14,
    TLM_DT_IQ4_NL = 20,
    TLM_DT_IQ4_XS = 23,
    TLM_DT_BF16 = 30,
    TLM_DT_SLOTS = 32, /* every type value is below this: per-type tables have this many slots */
};

#endif
