/* hf_config.c - a Hugging Face model directory: config.json into a tlm_config, then the
 * safetensors weights bound by the family's HF names. Keys per family and their defaults
 * are in docs/architectures.md. */
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mapped_file.h"
#include "model.h"
#include "safetensors_read.h"

enum { MAX_CONFIG_BYTES = 16 << 20 };

typedef struct reader {
    const cJSON *root;
    const char *path;
    tlm_error *err;
    tlm_status st; /* first failure */
} reader;

static void bad(reader *r, const char *key, const char *what)
{
    if (r->st == TLM_OK)
        r->st = tlm_fail(r->err, TLM_ERR_FORMAT, "%s: \"%s\" %s", r->path, key, what);
}

/* A present, non-null key; NULL when absent or null (null means "use the default"). */
static const cJSON *item(reader *r, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(r->root, key);
    return it && !cJSON_IsNull(it) ? it : NULL;
}

/* Integer in [lo, hi]; `def` when absent; required when def < lo. */
static int32_t get_int(reader *r, const char *key, int64_t def, int64_t lo, int64_t hi)
{
    const cJSON *it = item(r, key);
    if (!it) {
        if (def < lo) bad(r, key, "is required");
        return (int32_t)(def < lo ? lo : def);
    }
    double v = cJSON_GetNumberValue(it);
    if (!cJSON_IsNumber(it) || v != floor(v) || v < (double)lo || v > (double)hi) {
        char what[96];
        snprintf(what, sizeof what, "must be an integer in [%ld, %ld]", (long)lo, (long)hi);
        bad(r, key, what);
        return (int32_t)lo;
    }
    return (int32_t)v;
}

static float get_float(reader *r, const char *key, float def)
{
    const cJSON *it = item(r, key);
    if (!it) return def;
    /* converting a double beyond float range to float is undefined behaviour */
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || fabs(it->valuedouble) > FLT_MAX) {
        bad(r, key, "must be a finite number within float range");
        return def;
    }
    return (float)it->valuedouble;
}

static bool get_bool(reader *r, const char *key, bool def)
{
    const cJSON *it = item(r, key);
    if (!it) return def;
    if (!cJSON_IsBool(it)) {
        bad(r, key, "must be true or false");
        return def;
    }
    return cJSON_IsTrue(it);
}

static const char *get_str(reader *r, const char *key)
{
    const cJSON *it = item(r, key);
    if (it && !cJSON_IsString(it)) bad(r, key, "must be a string");
    return it && cJSON_IsString(it) ? it->valuestring : NULL;
}

/* First of several alternative keys that is present, else NULL. */
static const char *first_key(reader *r, const char *a, const char *b, const char *c)
{
    if (item(r, a)) return a;
    if (b && item(r, b)) return b;
    if (c && item(r, c)) return c;
    return a;
}

/* A small text file (config.json) as a NUL-terminated copy, through the shared opener. */
static char *read_small_file(const char *path, size_t cap, size_t *len, tlm_error *err,
                             tlm_status *st)
{
    tlm_mapped_file mf;
    *st = tlm_map_file(path, 1, NULL, &mf, err);
    if (*st != TLM_OK) return NULL;
    char *buf = NULL;
    if (mf.size > cap)
        *st = tlm_fail(err, TLM_ERR_FORMAT, "%s: larger than %zu bytes", path, cap);
    else if (!(buf = malloc((size_t)mf.size + 1)))
        *st = tlm_fail(err, TLM_ERR_NO_MEMORY, "%s: out of memory", path);
    if (buf) {
        memcpy(buf, mf.data, (size_t)mf.size);
        buf[mf.size] = '\0';
        *len = (size_t)mf.size;
    }
    tlm_unmap_file(&mf);
    return buf;
}

/* The MLP activation config.json names (transformers' ACT2FN[hidden_act], which every
 * family's MLP applies, gated or not); the family's own when it names none. */
static void read_act(reader *r, const tlm_arch *arch, tlm_act *out)
{
    const char *key = item(r, "hidden_activation") ? "hidden_activation" : "hidden_act";
    const char *act = get_str(r, key);
    *out = arch->act;
    if (!act || r->st != TLM_OK) return;
    if (strcmp(act, "silu") == 0)
        *out = TLM_ACT_SILU;
    else if (strcmp(act, "gelu_new") == 0 || strcmp(act, "gelu_pytorch_tanh") == 0 ||
             (strcmp(act, "gelu") == 0 && arch->hf_gelu_tanh))
        *out = TLM_ACT_GELU_TANH;
    else /* exact (erf) GELU and the rest: no kernel computes them */
        r->st = tlm_fail(r->err, TLM_ERR_UNSUPPORTED,
                         "%s: %s \"%s\" is not supported for %s "
                         "(silu, gelu_new and gelu_pytorch_tanh are)",
                         r->path, key, act, arch->hf_type);
}

/* One LongRoPE factor list: rope_dim / 2 positive numbers, copied into the model. */
static const float *factor_list(tlm_model *m, reader *r, const cJSON *list, const char *key)
{
    int32_t half = m->cfg.rope_dim / 2;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) != half) {
        r->st = tlm_fail(r->err, TLM_ERR_FORMAT,
                         "%s: rope_scaling.%s must be a list of %d numbers "
                         "(rotary dims / 2)",
                         r->path, key, half);
        return NULL;
    }
    float *f = tlm_model_alloc(m, (size_t)half * sizeof(float));
    if (!f) {
        r->st = tlm_fail(r->err, TLM_ERR_NO_MEMORY, "%s: out of memory", r->path);
        return NULL;
    }
    int32_t i = 0;
    for (const cJSON *it = list->child; it; it = it->next, i++) {
        double v = cJSON_GetNumberValue(it);
        if (!cJSON_IsNumber(it) || !(v > 0.0) || v > FLT_MAX) {
            r->st = tlm_fail(r->err, TLM_ERR_FORMAT,
                             "%s: rope_scaling.%s[%d] must be a positive "
                             "number",
                             r->path, key, i);
            return NULL;
        }
        f[i] = (float)v; /* HF builds the factor tensor in float32 */
    }
    return f;
}

/* rope_scaling: LongRoPE ("longrope", or "su" in the first Phi-3 revisions) is the only kind
 * run; any other is refused rather than computed as plain RoPE. The attention factor is HF's
 * (_compute_longrope_parameters): rope_scaling.attention_factor when given, else
 * sqrt(1 + ln(max/orig) / ln(orig)) when max > orig, else 1. */
static tlm_status parse_rope_scaling(tlm_model *m, reader *r)
{
    tlm_config *c = &m->cfg;
    const cJSON *rs = item(r, "rope_scaling");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(rs, "rope_type");
    if (!cJSON_IsString(type)) type = cJSON_GetObjectItemCaseSensitive(rs, "type");
    if (!cJSON_IsObject(rs) || !cJSON_IsString(type))
        return tlm_fail(r->err, TLM_ERR_FORMAT, "%s: rope_scaling must be an object with a type",
                        r->path);
    if (strcmp(type->valuestring, "longrope") != 0 && strcmp(type->valuestring, "su") != 0)
        return tlm_fail(r->err, TLM_ERR_UNSUPPORTED,
                        "%s: rope_scaling type \"%s\" is not "
                        "supported (longrope, su)",
                        r->path, type->valuestring);
    reader inner = {rs, r->path, r->err, TLM_OK};
    /* newer configs may carry it inside rope_scaling; the top-level key wins, as in HF */
    int32_t orig = get_int(&inner, "original_max_position_embeddings", 0, 0, TLM_MAX_CTX);
    c->orig_ctx = get_int(r, "original_max_position_embeddings", orig, 1, TLM_MAX_CTX);
    float attn = get_float(&inner, "attention_factor", 0.0f);
    if (inner.st != TLM_OK) return inner.st;
    if (r->st != TLM_OK) return r->st;
    if (c->orig_ctx < 1)
        return tlm_fail(r->err, TLM_ERR_FORMAT,
                        "%s: LongRoPE needs "
                        "original_max_position_embeddings",
                        r->path);
    c->rope_short =
        factor_list(m, r, cJSON_GetObjectItemCaseSensitive(rs, "short_factor"), "short_factor");
    if (r->st == TLM_OK)
        c->rope_long =
            factor_list(m, r, cJSON_GetObjectItemCaseSensitive(rs, "long_factor"), "long_factor");
    if (r->st != TLM_OK) return r->st;
    double factor = (double)c->max_seq / (double)c->orig_ctx;
    c->rope_attn_factor = attn > 0.0f    ? attn
                          : factor > 1.0 ? (float)sqrt(1.0 + log(factor) / log((double)c->orig_ctx))
                                         : 1.0f;
    c->longrope = true;
    return TLM_OK;
}

static tlm_status parse_config(tlm_model *m, reader *r)
{
    tlm_config *c = &m->cfg;
    const char *type = get_str(r, "model_type");
    if (!type) return tlm_fail(r->err, TLM_ERR_FORMAT, "%s: \"model_type\" is missing", r->path);
    m->arch = tlm_arch_by_hf(type);
    if (!m->arch)
        return tlm_fail(r->err, TLM_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (%s)",
                        r->path, type, tlm_arch_hf_names());
    snprintf(c->arch, sizeof c->arch, "%s", type);
    const tlm_arch *a = m->arch;

    c->dim = get_int(r, "hidden_size", -1, 1, TLM_MAX_DIM);
    c->n_layers = get_int(r, "num_hidden_layers", -1, 1, TLM_MAX_LAYERS);
    c->n_heads = get_int(r, "num_attention_heads", -1, 1, TLM_MAX_HEADS);
    c->n_kv_heads = get_int(r, "num_key_value_heads", c->n_heads, 1, TLM_MAX_HEADS);
    c->head_dim = get_int(r, first_key(r, "head_dim", "kv_channels", NULL),
                          c->dim / (c->n_heads ? c->n_heads : 1), 1, TLM_MAX_HEAD_DIM);
    c->hidden_dim = get_int(r, "intermediate_size", -1, 1, 16 * TLM_MAX_DIM);
    if (a->ff_halved) c->hidden_dim /= 2;
    c->vocab_size = get_int(r, "vocab_size", -1, 1, TLM_MAX_VOCAB);
    c->max_seq = get_int(r, first_key(r, "max_position_embeddings", "seq_length", NULL), 2048, 1,
                         TLM_MAX_CTX);
    c->rope_theta = get_float(r, first_key(r, "rope_theta", "rotary_emb_base", NULL), 10000.0f);
    float frac = get_float(r, first_key(r, "partial_rotary_factor", "rotary_pct", NULL), 1.0f);
    if (!(frac > 0.0f && frac <= 1.0f)) {
        bad(r, "partial_rotary_factor", "must be in (0, 1]");
        frac = 1.0f; /* reported; keeps the conversion below defined (1e30 * 64 is no int) */
    }
    c->rope_dim = (int32_t)((float)c->head_dim * frac);
    c->rope_neox = true; /* HF checkpoints keep the rotate-half layout */
    c->norm = a->norm;
    c->norm_eps =
        get_float(r, first_key(r, "rms_norm_eps", "layer_norm_eps", "layer_norm_epsilon"), 1e-5f);
    c->norm_plus_one = a->hf_norm_plus_one;
    c->mlp_gated = a->mlp_gated;
    c->embed_scale = a->embed_scale_sqrt ? sqrtf((float)c->dim) : 1.0f;
    c->parallel_residual = a->always_parallel || get_bool(r, "use_parallel_residual", false);
    c->qk_norm = get_bool(r, "qk_layernorm", false);
    c->layer_sharing = get_bool(r, "layer_sharing", false);
    /* Gemma ties by its class default; MobileLLM shares through its own key. */
    c->tied_embeddings = get_bool(r, "tie_word_embeddings", a->embed_scale_sqrt) ||
                         get_bool(r, "share_embedding", false);
    c->bos_id = get_int(r, "bos_token_id", -1, -1, TLM_MAX_VOCAB);
    c->eos_id = item(r, "eos_token_id") && cJSON_IsArray(item(r, "eos_token_id"))
                    ? -1
                    : get_int(r, "eos_token_id", -1, -1, TLM_MAX_VOCAB);
    if (a->ntk_logn) { /* QWenConfig's defaults: both on, measured from seq_length */
        c->orig_ctx = get_int(r, "seq_length", c->max_seq, 1, TLM_MAX_CTX);
        c->dynamic_ntk = get_bool(r, "use_dynamic_ntk", true);
        c->logn_attn = get_bool(r, "use_logn_attn", true);
    }
    if (item(r, "sliding_window") &&
        (!a->hf_window_opt_in || get_bool(r, "use_sliding_window", false)))
        c->sliding_window = get_int(r, "sliding_window", 0, 0, TLM_MAX_CTX);
    read_act(r, a, &c->act);
    if (r->st != TLM_OK) return r->st;

    if (item(r, "rope_scaling") && (r->st = parse_rope_scaling(m, r)) != TLM_OK) return r->st;
    if (c->qk_norm && c->norm != TLM_NORM_LAYER)
        return tlm_fail(r->err, TLM_ERR_UNSUPPORTED,
                        "%s: qk_layernorm is only supported for "
                        "stablelm",
                        r->path);
    if (a->hf_window_opt_in && c->sliding_window)
        return tlm_fail(r->err, TLM_ERR_UNSUPPORTED,
                        "%s: %s use_sliding_window (per-layer "
                        "windows) is not supported",
                        r->path, a->hf_type);
    return tlm_config_validate(c, r->path, r->err);
}

static const tlm_tensor *find_tensor(const void *s, const char *name)
{
    return tlm_st_find_tensor(s, name);
}

tlm_status tlm_load_hf_dir(tlm_model *m, const char *dir, tlm_error *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/config.json", dir) >= (int)sizeof path)
        return tlm_fail(err, TLM_ERR_ARG, "%s: path too long", dir);
    if (access(path, F_OK) != 0) /* say what the directory lacks, not that a file won't open */
        return tlm_fail(err, TLM_ERR_IO,
                        "%s: no model here: a Hugging Face model directory "
                        "holds config.json and *.safetensors (a GGUF or llama2.c model is "
                        "given as its file's path)",
                        dir);
    size_t len;
    tlm_status st;
    char *text = read_small_file(path, MAX_CONFIG_BYTES, &len, err, &st);
    if (!text) return st;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tlm_fail(err, TLM_ERR_FORMAT, "%s: not a JSON object", path);
    }
    reader r = {root, path, err, TLM_OK};
    st = parse_config(m, &r);
    cJSON_Delete(root);
    if (st != TLM_OK) return st;

    if ((st = tlm_st_open(dir, &m->st, err)) != TLM_OK) return st;
    tlm_tensor_source src = {dir, true, m->st, find_tensor};
    return tlm_model_bind(m, &src, err);
}
