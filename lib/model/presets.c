/* presets.c - the seven seed models' real configurations (docs/architectures.md Part 2),
 * built with seeded random weights so any architecture can be run and timed before a
 * download. Tensors are laid out as llama.cpp's converter writes each family's GGUF. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "model.h"

typedef struct preset {
    const char *name;
    const char *arch; /* GGUF architecture: the table row whose features apply */
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, head_dim, vocab, ctx;
    int32_t rope_dim, window;
    float eps;
    bool tied, qkv_bias, out_bias, mlp_bias, head_bias;
    bool fused_qkv, fused_gate_up; /* as the family's GGUF stores them */
    int32_t bos, eos;
    int32_t orig_ctx; /* LongRoPE: original context; 0 otherwise */
    const float *rope_short, *rope_long;
} preset;

/* Phi-3-mini-128k-instruct's rope_scaling (config.json, "longrope"), 48 = 96 / 2 each; read
 * through a verbatim copy (a Microsoft evaluation script's LONGROPE_PARAMS) whose ends match
 * docs/architectures.md: short 1.1 .. 3.05, long 1.07 .. 64.76. */
/* Tables keep their columns. */
// clang-format off
static const float phi3_128k_short[48] = {
    1.1f, 1.1f, 1.1f, 1.3000000000000003f, 1.3500000000000003f, 1.3500000000000003f,
    1.4000000000000004f, 1.5500000000000005f, 2.000000000000001f, 2.000000000000001f,
    2.000000000000001f, 2.000000000000001f, 2.000000000000001f, 2.000000000000001f,
    2.000000000000001f, 2.000000000000001f, 2.000000000000001f, 2.000000000000001f,
    2.000000000000001f, 2.000000000000001f, 2.000000000000001f, 2.000000000000001f,
    2.000000000000001f, 2.000000000000001f, 2.000000000000001f, 2.0500000000000007f,
    2.0500000000000007f, 2.0500000000000007f, 2.0500000000000007f, 2.0500000000000007f,
    2.0500000000000007f, 2.1000000000000005f, 2.1000000000000005f, 2.1500000000000004f,
    2.25f, 2.25f, 2.25f, 2.25f, 2.25f, 2.3999999999999995f, 2.4499999999999993f,
    2.499999999999999f, 2.6999999999999984f, 2.6999999999999984f, 2.7499999999999982f,
    2.799999999999998f, 2.8999999999999977f, 3.049999999999997f,
};
static const float phi3_128k_long[48] = {
    1.0700000524520874f, 1.1200000047683716f, 1.149999976158142f, 1.4199999570846558f,
    1.5699999332427979f, 1.7999999523162842f, 2.129999876022339f, 2.129999876022339f,
    3.009999990463257f, 5.910000324249268f, 6.950000286102295f, 9.070000648498535f,
    9.930000305175781f, 10.710000038146973f, 11.130000114440918f, 14.609999656677246f,
    15.409998893737793f, 19.809999465942383f, 37.279998779296875f, 38.279998779296875f,
    38.599998474121094f, 40.12000274658203f, 46.20000457763672f, 50.940006256103516f,
    53.66000747680664f, 54.9373893737793f, 56.89738845825195f, 57.28738784790039f,
    59.98738479614258f, 60.86738586425781f, 60.887386322021484f, 61.71739196777344f,
    62.91739273071289f, 62.957393646240234f, 63.41739273071289f, 63.8173942565918f,
    63.83739471435547f, 63.897396087646484f, 63.93739700317383f, 64.06739807128906f,
    64.11434936523438f, 64.12435150146484f, 64.15435028076172f, 64.19435119628906f,
    64.24435424804688f, 64.57435607910156f, 64.69000244140625f, 64.76000213623047f,
};

static const preset presets[] = {
    /* name               arch        dim   ff     L   H   KV  hd   vocab   ctx   rot  win   eps */
    {"tinyllama-1.1b", "llama", 2048, 5632, 22, 32, 4, 64, 32000, 2048, 64, 0, 1e-5f,
     false, false, false, false, false, false, false, 1, 2, 0, NULL, NULL},
    {"mobilellm-350m", "llama", 960, 2560, 32, 15, 5, 64, 32000, 2048, 64, 0, 1e-5f,
     true, false, false, false, false, false, false, 1, 2, 0, NULL, NULL},
    {"gemma-2b", "gemma", 2048, 16384, 18, 8, 1, 256, 256000, 8192, 256, 0, 1e-6f,
     true, false, false, false, false, false, false, 2, 1, 0, NULL, NULL},
    {"qwen-1.8b", "qwen", 2048, 5504, 24, 16, 16, 128, 151936, 8192, 128, 0, 1e-6f,
     false, true, false, false, false, true, false, -1, 151643, 0, NULL, NULL},
    {"phi-2", "phi2", 2560, 10240, 32, 32, 32, 80, 51200, 2048, 32, 0, 1e-5f,
     false, true, true, true, true, false, false, 50256, 50256, 0, NULL, NULL},
    {"phi-3-mini", "phi3", 3072, 8192, 32, 32, 32, 96, 32064, 4096, 96, 2047, 1e-5f,
     false, false, false, false, false, true, true, 1, 32000, 0, NULL, NULL},
    {"phi-3-mini-128k", "phi3", 3072, 8192, 32, 32, 32, 96, 32064, 131072, 96, 262144, 1e-5f,
     false, false, false, false, false, true, true, 1, 32000, 4096, phi3_128k_short,
     phi3_128k_long},
    {"stablelm-2-1.6b", "stablelm", 2048, 5632, 24, 32, 32, 64, 100352, 4096, 16, 0, 1e-5f,
     false, true, false, false, false, false, false, 100257, 100257, 0, NULL, NULL},
};
// clang-format on

#define N_PRESETS (sizeof presets / sizeof presets[0])

const char *const *tlm_preset_names(void)
{
    static const char *names[N_PRESETS + 1];
    for (size_t i = 0; i < N_PRESETS; i++)
        names[i] = presets[i].name;
    return names;
}

tlm_preset_params tlm_preset_default_params(void)
{
    return (tlm_preset_params){.weight_type = TLM_TYPE_F16, .seed = 1, .n_threads = 0};
}

static const preset *find(const char *name)
{
    for (size_t i = 0; name && i < N_PRESETS; i++)
        if (strcmp(presets[i].name, name) == 0) return &presets[i];
    return NULL;
}

static void config_of(const preset *p, const tlm_arch *a, tlm_config *c)
{
    *c = (tlm_config){0};
    snprintf(c->arch, sizeof c->arch, "%s", p->arch);
    c->dim = p->dim;
    c->hidden_dim = p->hidden_dim;
    c->n_layers = p->n_layers;
    c->n_heads = p->n_heads;
    c->n_kv_heads = p->n_kv_heads;
    c->head_dim = p->head_dim;
    c->vocab_size = p->vocab;
    c->max_seq = p->ctx;
    c->rope_dim = p->rope_dim;
    c->rope_theta = 10000.0f;
    c->rope_neox = a->gguf_rope_neox;
    c->norm = a->norm;
    c->norm_eps = p->eps;
    c->sliding_window = p->window;
    c->parallel_residual = a->always_parallel;
    c->mlp_gated = a->mlp_gated;
    c->act = a->act;
    c->tied_embeddings = p->tied;
    c->embed_scale = a->embed_scale_sqrt ? sqrtf((float)p->dim) : 1.0f;
    c->bos_id = p->bos;
    c->eos_id = p->eos;
    c->dynamic_ntk = c->logn_attn = a->ntk_logn; /* Qwen v1: as its config.json */
    c->orig_ctx = a->ntk_logn ? p->ctx : p->orig_ctx;
    if (p->orig_ctx) { /* HF's attention factor for max / orig > 1 */
        c->longrope = true;
        c->rope_short = p->rope_short;
        c->rope_long = p->rope_long;
        c->rope_attn_factor =
            (float)sqrt(1.0 + log((double)p->ctx / p->orig_ctx) / log((double)p->orig_ctx));
    }
}

/* splitmix64: a stateless hash of (seed, tensor, index), so values do not depend on the
 * thread count or the order tensors are made in. */
static uint64_t mix(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

typedef struct maker {
    tlm_model *m;
    uint64_t seed;
    tlm_type type;
    int n_threads;
    bool shape_only; /* matrices get no data: for sizes computed from the config alone */
    tlm_error *err;
} maker;

/* Adds tensor `name` of cols x rows (rows 0: a vector, always F32) filled with
 * center + uniform(-amp, amp). */
static tlm_status make(maker *mk, const char *name, int64_t cols, int64_t rows, float center,
                       float amp)
{
    tlm_type type = rows ? mk->type : TLM_TYPE_F32;
    int64_t n_rows = rows ? rows : 1;
    uint64_t row_bytes;
    tlm_type_row_bytes(type, cols, &row_bytes);
    uint64_t bytes = row_bytes * (uint64_t)n_rows;
    tlm_tensor t = {
        .type = type, .n_dims = rows ? 2 : 1, .ne = {cols, n_rows, 1, 1}, .nbytes = bytes};
    snprintf(t.name, sizeof t.name, "%s", name);
    if (mk->shape_only && rows) { /* binding reads vectors, never matrix data */
        static const uint8_t no_data[1];
        t.data = no_data;
        arrput(mk->m->own_tensors, t);
        return TLM_OK;
    }
    uint8_t *data = tlm_model_alloc(mk->m, (size_t)bytes);
    if (!data)
        return tlm_fail(mk->err, TLM_ERR_NO_MEMORY, "out of memory for '%s' (%llu bytes)", name,
                        (unsigned long long)bytes);
    uint64_t tensor_seed = mix(mk->seed ^ mix((uint64_t)arrlen(mk->m->own_tensors)));
    /* F16 rows go through the kernels' row conversion (the KV store's: round to nearest even,
     * as tlm_f32_to_f16); the scalar one made the 3.8 B-weight presets take a minute */
    tlm_store_kv_fn to_f16 = mk->m->k->store_kv[TLM_TYPE_F16];
    bool ok = true;
#pragma omp parallel num_threads(mk->n_threads) reduction(&& : ok)
    {
        float *buf = type == TLM_TYPE_F32 ? NULL : malloc((size_t)cols * sizeof *buf);
        ok = type == TLM_TYPE_F32 || buf;
#pragma omp for schedule(static)
        for (int64_t r = 0; r < n_rows; r++) {
            uint8_t *row = data + (uint64_t)r * row_bytes;
            float *v = type == TLM_TYPE_F32 ? (float *)row : buf;
            if (!v) continue; /* no row buffer: reported after the loop */
            for (int64_t i = 0; i < cols; i++) {
                uint64_t h = mix(tensor_seed + (uint64_t)(r * cols + i));
                v[i] = center + amp * (float)((double)(h >> 11) * 0x1.0p-53 * 2.0 - 1.0);
            }
            if (type == TLM_TYPE_F32) continue;
            if (type == TLM_TYPE_F16)
                to_f16(row, v, cols);
            else
                for (int64_t i = 0; i < cols; i++)
                    ((uint16_t *)row)[i] = tlm_f32_to_bf16(v[i]);
        }
        free(buf);
    }
    if (!ok) return tlm_fail(mk->err, TLM_ERR_NO_MEMORY, "out of memory for a row of '%s'", name);
    t.data = data;
    arrput(mk->m->own_tensors, t);
    return TLM_OK;
}

/* A weight matrix scaled so each output has about the variance of the input. */
static tlm_status make_matrix(maker *mk, const char *name, int64_t cols, int64_t rows)
{
    return make(mk, name, cols, rows, 0.0f, sqrtf(3.0f / (float)cols));
}

/* A norm's gain (and bias for LayerNorm) named prefix + ".weight" / ".bias". */
static tlm_status make_norm(maker *mk, const char *prefix, int64_t n, bool with_bias)
{
    char name[TLM_MAX_NAME];
    snprintf(name, sizeof name, "%s.weight", prefix);
    tlm_status st = make(mk, name, n, 0, 1.0f, 0.1f);
    if (st != TLM_OK || !with_bias) return st;
    snprintf(name, sizeof name, "%s.bias", prefix);
    return make(mk, name, n, 0, 0.0f, 0.1f);
}

static tlm_status make_linear(maker *mk, int layer, const char *kind, int64_t cols, int64_t rows,
                              bool bias)
{
    char name[TLM_MAX_NAME];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, kind);
    tlm_status st = make_matrix(mk, name, cols, rows);
    if (st != TLM_OK || !bias) return st;
    snprintf(name, sizeof name, "blk.%d.%s.bias", layer, kind);
    return make(mk, name, rows, 0, 0.0f, 0.1f);
}

static tlm_status make_block(maker *mk, const preset *p, const tlm_config *c, int l)
{
    bool ln = c->norm == TLM_NORM_LAYER;
    int64_t q = (int64_t)c->n_heads * c->head_dim, kv = (int64_t)c->n_kv_heads * c->head_dim;
    char prefix[TLM_MAX_NAME];
    snprintf(prefix, sizeof prefix, "blk.%d.attn_norm", l);
    tlm_status st = make_norm(mk, prefix, c->dim, ln);
    if (st) return st;
    if (p->fused_qkv) {
        if ((st = make_linear(mk, l, "attn_qkv", c->dim, q + 2 * kv, p->qkv_bias))) return st;
    } else if ((st = make_linear(mk, l, "attn_q", c->dim, q, p->qkv_bias)) ||
               (st = make_linear(mk, l, "attn_k", c->dim, kv, p->qkv_bias)) ||
               (st = make_linear(mk, l, "attn_v", c->dim, kv, p->qkv_bias))) {
        return st;
    }
    if ((st = make_linear(mk, l, "attn_output", q, c->dim, p->out_bias))) return st;
    snprintf(prefix, sizeof prefix, "blk.%d.ffn_norm", l);
    if (!c->parallel_residual && (st = make_norm(mk, prefix, c->dim, ln))) return st;
    int64_t h = c->hidden_dim;
    if (!c->mlp_gated)
        st = make_linear(mk, l, "ffn_up", c->dim, h, p->mlp_bias);
    else if (p->fused_gate_up)
        st = make_linear(mk, l, "ffn_up", c->dim, 2 * h, false);
    else if (!(st = make_linear(mk, l, "ffn_gate", c->dim, h, false)))
        st = make_linear(mk, l, "ffn_up", c->dim, h, false);
    if (st) return st;
    return make_linear(mk, l, "ffn_down", h, c->dim, p->mlp_bias);
}

/* Builds preset `name` into a new model; shape_only skips the matrices' data. */
static tlm_status build(const char *name, const tlm_preset_params *params, bool shape_only,
                        tlm_model **out, tlm_error *err)
{
    *out = NULL;
    tlm_preset_params pp = params ? *params : tlm_preset_default_params();
    const preset *p = find(name);
    if (!p)
        return tlm_fail(err, TLM_ERR_ARG,
                        "unknown preset '%s' (tinyllama-1.1b, mobilellm-350m, "
                        "gemma-2b, qwen-1.8b, phi-2, phi-3-mini, phi-3-mini-128k, stablelm-2-1.6b)",
                        name ? name : "(null)");
    if (pp.weight_type != TLM_TYPE_F32 && pp.weight_type != TLM_TYPE_F16 &&
        pp.weight_type != TLM_TYPE_BF16)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED, "preset weights must be F32, F16 or BF16");
    tlm_model *m = tlm_model_new();
    if (!m) return tlm_fail(err, TLM_ERR_NO_MEMORY, "out of memory");
    m->arch = tlm_arch_by_gguf(p->arch);
    config_of(p, m->arch, &m->cfg);
    const tlm_config *c = &m->cfg;
    maker mk = {m,
                pp.seed,
                pp.weight_type,
                pp.n_threads > 0 ? pp.n_threads : tlm_default_threads(),
                shape_only,
                err};

    tlm_status st = make(&mk, "token_embd.weight", c->dim, c->vocab_size, 0.0f, 1.0f);
    for (int l = 0; st == TLM_OK && l < c->n_layers; l++)
        st = make_block(&mk, p, c, l);
    if (st == TLM_OK) st = make_norm(&mk, "output_norm", c->dim, c->norm == TLM_NORM_LAYER);
    if (st == TLM_OK && !c->tied_embeddings) {
        st = make_matrix(&mk, "output.weight", c->dim, c->vocab_size);
        if (st == TLM_OK && p->head_bias)
            st = make(&mk, "output.bias", c->vocab_size, 0, 0.0f, 0.1f);
    }
    m->shape_only = shape_only;
    tlm_tensor_source src = {p->name, false, m, tlm_model_find_own};
    if (st == TLM_OK) st = tlm_model_bind(m, &src, err);
    if (st != TLM_OK) {
        tlm_model_free(m);
        return st;
    }
    tlm_model_fill_info(m);
    *out = m;
    return TLM_OK;
}

tlm_status tlm_model_load_preset(const char *name, const tlm_preset_params *params, tlm_model **out,
                                 tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_model_load_preset: out is NULL");
    return build(name, params, params && params->shape_only, out, err);
}

tlm_status tlm_preset_info(const char *name, tlm_type weight_type, tlm_model_info *info,
                           tlm_error *err)
{
    if (!info) return tlm_fail(err, TLM_ERR_ARG, "tlm_preset_info: info is NULL");
    tlm_preset_params pp = tlm_preset_default_params();
    pp.weight_type = weight_type;
    tlm_model *m;
    tlm_status st = build(name, &pp, true, &m, err);
    if (st != TLM_OK) return st;
    *info = m->info;
    info->arch = find(name)->arch; /* the model's own string goes with it */
    tlm_model_free(m);
    return TLM_OK;
}
