#include "config.h"

#include <math.h>

#define CHECK_RANGE(field, lo, hi)                                                                 \
    do {                                                                                           \
        if (c->field < (lo) || c->field > (hi))                                                    \
            return tlm_fail(err, TLM_ERR_FORMAT, "%s: %s = %ld is outside [%ld, %ld]", what,       \
                            #field, (long)c->field, (long)(lo), (long)(hi));                       \
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
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: %d heads are not a multiple of %d kv heads", what,
                        c->n_heads, c->n_kv_heads);
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
    CHECK_RANGE(orig_ctx, 0, TLM_MAX_CTX);
    if (c->longrope) {
        if (!c->rope_short || !c->rope_long || c->orig_ctx < 1)
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: LongRoPE needs short and long factors and "
                            "the original context length",
                            what);
        if (!(c->rope_attn_factor > 0.0f) || !isfinite(c->rope_attn_factor))
            return tlm_fail(err, TLM_ERR_FORMAT,
                            "%s: LongRoPE attention factor %g must be "
                            "positive",
                            what, (double)c->rope_attn_factor);
        for (int32_t i = 0; i < c->rope_dim / 2; i++)
            if (!(c->rope_short[i] > 0.0f) || !isfinite(c->rope_short[i]) ||
                !(c->rope_long[i] > 0.0f) || !isfinite(c->rope_long[i]))
                return tlm_fail(err, TLM_ERR_FORMAT,
                                "%s: LongRoPE factor %d (short %g, long %g) "
                                "must be positive",
                                what, i, (double)c->rope_short[i], (double)c->rope_long[i]);
    }
    /* NTK's exponent d / (d - 2) and logn's log(orig_ctx) need d > 2 and orig_ctx > 1 */
    if ((c->dynamic_ntk && (c->rope_dim <= 2 || c->orig_ctx < 2)) ||
        (c->logn_attn && c->orig_ctx < 2))
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: dynamic NTK / logn need rotary dims > 2 (have "
                        "%d) and a training length > 1 (have %d)",
                        what, c->rope_dim, c->orig_ctx);
    if (c->bos_id >= c->vocab_size || c->eos_id >= c->vocab_size)
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: bos/eos id (%d/%d) outside the vocabulary (%d)",
                        what, c->bos_id, c->eos_id, c->vocab_size);
    return TLM_OK;
}
