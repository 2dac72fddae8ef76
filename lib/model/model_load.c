/* model_load.c - the model half of the public API: detect the file format, load, describe,
 * free. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds.h"
#include "gguf_read.h"
#include "isa_names.h"
#include "mapped_file.h"
#include "model.h"
#include "safetensors_read.h"
#include "tokenizer.h"

unsigned tlm_version_number(void) { return TLM_VERSION_NUMBER; }

tlm_model_params tlm_model_default_params(void) { return (tlm_model_params){.n_threads = 0}; }

void tlm_model_free(tlm_model *m)
{
    if (!m) return;
    for (ptrdiff_t i = 0; i < arrlen(m->owned); i++)
        free(m->owned[i]);
    arrfree(m->owned);
    arrfree(m->own_tensors);
    tlm_gguf_close(m->gguf);
    tlm_st_close(m->st);
    tlm_unmap_file(&(tlm_mapped_file){m->map, m->map_size});
    free(m);
}

static uint64_t matrix_bytes(const tlm_matrix *w) { return w->row_bytes * (uint64_t)w->rows; }

static uint64_t proj_bytes(const tlm_proj *p, uint64_t *params, uint64_t *matrix_params)
{
    uint64_t bytes = 0;
    for (int i = 0; i < p->n_parts; i++) {
        bytes += matrix_bytes(&p->part[i]);
        *params += (uint64_t)(p->part[i].rows * p->part[i].cols);
        *matrix_params += (uint64_t)(p->part[i].rows * p->part[i].cols);
    }
    if (p->bias) {
        bytes += (uint64_t)p->rows * 4;
        *params += (uint64_t)p->rows;
    }
    return bytes;
}

static uint64_t norm_bytes(const tlm_norm_weights *n, int64_t len, uint64_t *params)
{
    uint64_t count = (n->w ? (uint64_t)len : 0) + (n->b ? (uint64_t)len : 0);
    *params += count;
    return 4 * count;
}

void tlm_model_fill_info(tlm_model *m)
{
    const tlm_config *c = &m->cfg;
    tlm_model_info *in = &m->info;
    in->arch = c->arch;
    in->n_vocab = c->vocab_size;
    in->n_ctx_train = c->max_seq;
    in->dim = c->dim;
    in->n_layers = c->n_layers;
    in->n_heads = c->n_heads;
    in->n_kv_heads = c->n_kv_heads;
    in->head_dim = c->head_dim;
    in->hidden_dim = c->hidden_dim;
    in->n_layer_applications = tlm_config_n_apply(c);
    in->bos_id = c->bos_id;
    in->eos_id = c->eos_id;
    in->kv_bytes_per_token = 2ULL * 2 * (uint64_t)in->n_layer_applications *
                             (uint64_t)c->n_kv_heads * (uint64_t)c->head_dim;
    uint64_t params = (uint64_t)(m->embed.rows * m->embed.cols), mat = params;
    uint64_t bytes = matrix_bytes(&m->embed);
    for (int l = 0; l < c->n_layers; l++) {
        const tlm_block *b = &m->blocks[l];
        bytes += norm_bytes(&b->attn_norm, c->dim, &params) +
                 norm_bytes(&b->ffn_norm, c->dim, &params) + proj_bytes(&b->qkv, &params, &mat) +
                 proj_bytes(&b->out, &params, &mat) + proj_bytes(&b->gate_up, &params, &mat) +
                 proj_bytes(&b->down, &params, &mat);
        if (b->q_norm.w) {
            int64_t per = b->qk_norm_per_head ? c->head_dim : 0;
            bytes += norm_bytes(&(tlm_norm_weights){b->q_norm.w, NULL},
                                per ? per * c->n_heads : c->head_dim, &params);
            bytes += norm_bytes(&(tlm_norm_weights){b->k_norm.w, NULL},
                                per ? per * c->n_kv_heads : c->head_dim, &params);
        }
    }
    bytes += norm_bytes(&m->out_norm, c->dim, &params);
    if (!c->tied_embeddings) bytes += proj_bytes(&m->head, &params, &mat);
    in->n_params = params;
    in->n_matrix_params = mat;
    in->weight_bytes = bytes;
}

tlm_model *tlm_model_new(void)
{
    tlm_model *m = calloc(1, sizeof *m);
    if (m) m->k = tlm_kernels_get();
    return m;
}

/* The format is told by the path: a directory is Hugging Face, "GGUF" magic is GGUF,
 * anything else is tried as a llama2.c checkpoint. */
tlm_status tlm_model_open(const char *path, bool keep_rows, const tlm_model_params *params,
                          tlm_model **out, tlm_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    tlm_model *m = tlm_model_new();
    if (!m) return tlm_fail(err, TLM_ERR_NO_MEMORY, "out of memory");
    m->keep_rows = keep_rows;
    if (params) m->progress = params->progress, m->progress_user = params->progress_user;

    tlm_status st;
    if (S_ISDIR(sb.st_mode)) {
        st = tlm_load_hf_dir(m, path, err);
    } else {
        /* the magic is read through the shared opener, so a FIFO, a device or an empty file
         * gets its checks and message before any reader runs */
        tlm_mapped_file mf;
        st = tlm_map_file(path, 1, NULL, &mf, err);
        bool gguf = st == TLM_OK && mf.size >= 4 && memcmp(mf.data, "GGUF", 4) == 0;
        tlm_unmap_file(&mf);
        if (st == TLM_OK) st = gguf ? tlm_load_gguf(m, path, err) : tlm_load_llama2c(m, path, err);
    }
    if (st == TLM_OK && m->progress && !m->progress(m->progress_user, 1.0f))
        st = tlm_fail(err, TLM_ERR_CANCELLED, "%s: loading cancelled by the progress callback",
                      path);
    if (st != TLM_OK) {
        tlm_model_free(m);
        return st;
    }
    m->progress = NULL; /* the callback is the load's, not the model's */
    tlm_model_fill_info(m);
    *out = m;
    return TLM_OK;
}

tlm_status tlm_model_load(const char *path, const tlm_model_params *params, tlm_model **out,
                          tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_model_load: out is NULL");
    *out = NULL;
    if (!path) return tlm_fail(err, TLM_ERR_ARG, "tlm_model_load: path is NULL");
    /* TLM_ISA is read inside the kernels, which cannot report: a name they do not know would
     * be ignored, so it is refused here, where the caller hears of it */
    const char *isa = getenv("TLM_ISA");
    if (isa && !tlm_kernels_isa_known(isa)) {
        char known[64] = "";
        for (const char *const *n = tlm_kernels_isa_names(); *n; n++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                     n == tlm_kernels_isa_names() ? "" : ", ", *n);
        return tlm_fail(err, TLM_ERR_ARG, "TLM_ISA=%s: not a kernel level of this build (%s)", isa,
                        known);
    }
    if (params && params->progress && !params->progress(params->progress_user, 0.0f))
        return tlm_fail(err, TLM_ERR_CANCELLED, "%s: loading cancelled by the progress callback",
                        path);
    return tlm_model_open(path, false, params, out, err);
}

const tlm_model_info *tlm_model_get_info(const tlm_model *m) { return m ? &m->info : NULL; }

tlm_status tlm_tokenizer_from_model(const tlm_model *m, tlm_tokenizer **out, tlm_error *err)
{
    if (!m || !out) return tlm_fail(err, TLM_ERR_ARG, "tlm_tokenizer_from_model: NULL argument");
    *out = NULL;
    if (!m->gguf)
        return tlm_fail(err, TLM_ERR_UNSUPPORTED,
                        "this model file carries no tokenizer; give "
                        "one explicitly (e.g. a llama2.c tokenizer.bin)");
    tlm_status st = tlm_tokenizer_from_gguf(m->gguf, out, err);
    if (st == TLM_OK) tlm_arch_tokenizer_rules(*out); /* what the family's files declare */
    return st;
}
