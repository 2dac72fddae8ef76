#include "config.h"

#include <math.h>

#define CHECK_RANGE(field, lo, hi)                                                            \
    do {                                                                                      \
        if (c->field < (lo) || c->field > (hi))                                               \
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s = %ld is outside [%ld, %ld]", what,  \
                            #field, (long)c->field, (long)(lo), (long)(hi));                  \
    } while (0)

tlm_status tlm_config_validate(const tlm_config *c, const char *what, tlm_error *err)
{
    CHECK_RANGE(dim, 1, TLM_MAX_DIM);
    CHECK_RANGE(hidden_dim, 1, 16 * TLM_MAX_DIM);
    CHECK_RANGE(n_layers, 1, TLM_MAX_LAYERS);
    CHECK_RANGE(n_heads, 1, TLM_MAX_HEADS);
    CHECK_RANGE(n_kv_heads, 1, c->n_heads);
    CHECK_RANGE(head_dim, 1, TLM_MAX_HEAD_DIM);
    CHECK_RANGE(vocab_size, 1, TLM_MAX_VOCAB);
    CHECK_RANGE(max_seq, 1, TLM_MAX_CTX);
    CHECK_RANGE(rope_dim, 0, c->head_dim);
    CHECK_RANGE(sliding_window, 0, TLM_MAX_CTX);
    if (c->n_heads % c->n_kv_heads != 0)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %d heads are not a multiple of %d kv heads",
                        what, c->n_heads, c->n_kv_heads);
    if (c->rope_dim % 2 != 0)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: rotary dims %d must be even", what, c->rope_dim);
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: rope theta %g must be positive", what,
                        (double)c->rope_theta);
    if (!(c->norm_eps >= 0.0f) || !(c->norm_eps < 1.0f))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: norm epsilon %g is outside [0, 1)", what,
                        (double)c->norm_eps);
    if (!(c->embed_scale > 0.0f) || !isfinite(c->embed_scale))
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: embedding scale %g must be positive", what,
                        (double)c->embed_scale);
    if (c->bos_id >= c->vocab_size || c->eos_id >= c->vocab_size)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: bos/eos id (%d/%d) outside the vocabulary (%d)",
                        what, c->bos_id, c->eos_id, c->vocab_size);
    return TLM_OK;
}
