/* endpoints.c - /tokenize, /detokenize and /v1/embeddings (see endpoints.h).
 *
 * Embeddings do not go through the slots: they need every token's hidden state, which the
 * batched pass does not return, and no sampling. A request makes its own small context (just
 * long enough for its longest input, so its memory follows the request), under a lock so
 * that concurrent embeddings do not multiply the threads competing with the batcher. */
#include "endpoints.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BAD(err, param, code, ...)                                                                 \
    (oai_error_set(err, 400, "invalid_request_error", param, code, __VA_ARGS__), false)

static bool no_memory(oai_error *err)
{
    oai_error_set(err, 500, "server_error", NULL, NULL, "out of memory");
    return false;
}

static const cJSON *field(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return v && !cJSON_IsNull(v) ? v : NULL;
}

static bool get_bool(const cJSON *obj, const char *name, bool *out, oai_error *err)
{
    const cJSON *v = field(obj, name);
    if (!v) return true;
    if (!cJSON_IsBool(v))
        return BAD(err, name, "invalid_type", "Invalid type for '%s': expected a boolean.", name);
    *out = cJSON_IsTrue(v);
    return true;
}

/* Whether v is a number that is an integer id of the vocabulary. */
static bool is_id(const cJSON *v, int32_t n_vocab)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < n_vocab &&
           v->valuedouble == floor(v->valuedouble);
}

/* An array of token ids, each in [0, n_vocab): *ids malloc'd (NULL for an empty array). */
static bool parse_ids(const cJSON *arr, int32_t n_vocab, const char *param, int32_t **ids,
                      int32_t *n, oai_error *err)
{
    *ids = NULL;
    *n = 0;
    int k = cJSON_GetArraySize(arr);
    if (k == 0) return true;
    int32_t *out = malloc((size_t)k * sizeof *out);
    if (!out) return no_memory(err);
    int i = 0;
    for (const cJSON *v = arr->child; v; v = v->next, i++) {
        if (!is_id(v, n_vocab)) {
            free(out);
            return BAD(err, param, "invalid_value",
                       "Invalid '%s[%d]': token ids are integers "
                       "in [0, %d), the model's vocabulary.",
                       param, i, (int)n_vocab);
        }
        out[i] = (int32_t)v->valuedouble;
    }
    *ids = out;
    *n = k;
    return true;
}

/* text as ids, with BOS first when asked and the vocabulary has one. */
static bool tokenize_text(const tlm_tokenizer *tok, const char *text, bool bos, int32_t **ids,
                          int32_t *n, oai_error *err)
{
    *ids = NULL;
    int32_t need = 0;
    bos = bos && tlm_tokenizer_bos(tok) >= 0;
    tlm_status st = tlm_tokenize(tok, text, bos, NULL, 0, &need);
    if (st != TLM_OK && st != TLM_ERR_BUFFER_TOO_SMALL)
        return BAD(err, NULL, "invalid_value", "The text cannot be tokenized: %s.",
                   tlm_status_string(st));
    *ids = malloc(((size_t)need + 1) * sizeof **ids);
    if (!*ids) return no_memory(err);
    if (tlm_tokenize(tok, text, bos, *ids, need + 1, n) != TLM_OK) {
        free(*ids);
        *ids = NULL;
        return no_memory(err);
    }
    return true;
}

/* ---- /tokenize and /detokenize -------------------------------------------------------- */

/* A piece as a JSON string when it is whole UTF-8, else as its byte values (llama-server's
 * choice: a token may hold part of a character). */
static void piece_json(buf *out, const char *p, size_t n)
{
    if (oai_utf8_valid(p, n)) {
        buf_json_string(out, p, n);
        return;
    }
    buf_puts(out, "[");
    for (size_t i = 0; i < n; i++)
        buf_printf(out, "%s%u", i ? "," : "", (unsigned char)p[i]);
    buf_puts(out, "]");
}

bool api_tokenize(api_env *env, const char *body, size_t len, buf *out, oai_error *err)
{
    cJSON *root = oai_parse_json(body, len, err);
    if (!root) return false;
    bool ok = false, add_special = false, with_pieces = false;
    int32_t *ids = NULL, n = 0;
    const cJSON *content = field(root, "content");
    if (!content) {
        (void)BAD(err, "content", "missing_required_parameter",
                  "Missing required parameter: "
                  "'content'.");
    } else if (!cJSON_IsString(content)) {
        (void)BAD(err, "content", "invalid_type", "Invalid type for 'content': expected a string.");
    } else if (get_bool(root, "add_special", &add_special, err) &&
               get_bool(root, "with_pieces", &with_pieces, err) &&
               tokenize_text(env->tok, content->valuestring, add_special, &ids, &n, err)) {
        buf_puts(out, "{\"tokens\":[");
        for (int32_t i = 0; i < n; i++) {
            if (i) buf_puts(out, ",");
            if (!with_pieces) {
                buf_printf(out, "%d", (int)ids[i]);
                continue;
            }
            size_t pl = 0;
            const char *p = tlm_token_piece(env->tok, i ? ids[i - 1] : -1, ids[i], &pl);
            buf_printf(out, "{\"id\":%d,\"piece\":", (int)ids[i]);
            piece_json(out, p ? p : "", p ? pl : 0);
            buf_puts(out, "}");
        }
        buf_puts(out, "]}");
        ok = true;
    }
    free(ids);
    cJSON_Delete(root);
    return ok;
}

bool api_detokenize(api_env *env, const char *body, size_t len, buf *out, oai_error *err)
{
    cJSON *root = oai_parse_json(body, len, err);
    if (!root) return false;
    bool ok = false;
    int32_t *ids = NULL, n = 0;
    const cJSON *tokens = field(root, "tokens");
    if (!tokens) {
        (void)BAD(err, "tokens", "missing_required_parameter",
                  "Missing required parameter: "
                  "'tokens'.");
    } else if (!cJSON_IsArray(tokens)) {
        (void)BAD(err, "tokens", "invalid_type",
                  "Invalid type for 'tokens': expected an array of "
                  "token ids.");
    } else if (parse_ids(tokens, tlm_tokenizer_n_vocab(env->tok), "tokens", &ids, &n, err)) {
        tlm_detok *d = NULL;
        if (tlm_detok_create(env->tok, &d) != TLM_OK) {
            no_memory(err);
        } else {
            /* as a stream from the start: the text tokenize(content) came from */
            buf text = {0};
            tlm_detok_reset(d, -1);
            size_t pl = 0;
            for (int32_t i = 0; i < n; i++) {
                const char *p = tlm_detok_push(d, ids[i], &pl);
                buf_append(&text, p ? p : "", p ? pl : 0);
            }
            const char *p = tlm_detok_flush(d, &pl);
            buf_append(&text, p ? p : "", p ? pl : 0);
            buf_puts(out, "{\"content\":");
            buf_json_string(out, text.data ? text.data : "", text.len);
            buf_puts(out, "}");
            ok = !text.failed || no_memory(err);
            buf_free(&text);
            tlm_detok_free(d);
        }
    }
    free(ids);
    cJSON_Delete(root);
    return ok;
}

/* ---- /v1/embeddings ------------------------------------------------------------------- */

typedef struct inputs {
    int32_t **ids, *n;
    int32_t count, longest;
    int64_t total;
} inputs;

static void inputs_free(inputs *in)
{
    for (int32_t i = 0; i < in->count; i++)
        free(in->ids[i]);
    free(in->ids);
    free(in->n);
}

/* One input (a string or a token array) as ids, checked against the context. */
static bool one_input(api_env *env, const cJSON *v, int32_t i, inputs *in, oai_error *err)
{
    char param[32];
    snprintf(param, sizeof param, "input[%d]", (int)i);
    if (cJSON_IsString(v)) {
        if (!*v->valuestring)
            return BAD(err, param, "invalid_value",
                       "Invalid '%s': the input must not be an "
                       "empty string.",
                       param);
        /* BOS first, as examples/embeddings does: the text read as a document's start */
        if (!tokenize_text(env->tok, v->valuestring, true, &in->ids[i], &in->n[i], err))
            return false;
    } else if (cJSON_IsArray(v)) {
        if (!parse_ids(v, tlm_tokenizer_n_vocab(env->tok), param, &in->ids[i], &in->n[i], err))
            return false;
        if (in->n[i] == 0)
            return BAD(err, param, "invalid_value", "Invalid '%s': empty token array.", param);
    } else {
        return BAD(err, param, "invalid_type",
                   "Invalid type for '%s': expected a string or an "
                   "array of token ids.",
                   param);
    }
    if (in->n[i] > env->n_ctx)
        return (oai_error_set(err, 400, "invalid_request_error", param, "context_length_exceeded",
                              "Invalid '%s': %d tokens, but this "
                              "server embeds at most %d.",
                              param, (int)in->n[i], (int)env->n_ctx),
                false);
    if (in->n[i] > in->longest) in->longest = in->n[i];
    in->total += in->n[i];
    return true;
}

/* input: a string, an array of strings, one token array, or an array of token arrays. */
static bool parse_inputs(api_env *env, const cJSON *root, inputs *in, oai_error *err)
{
    const cJSON *input = field(root, "input");
    if (!input)
        return BAD(err, "input", "missing_required_parameter",
                   "Missing required parameter: "
                   "'input'.");
    bool one = cJSON_IsString(input);
    if (!one && !cJSON_IsArray(input))
        return BAD(err, "input", "invalid_type",
                   "Invalid type for 'input': expected a string, "
                   "an array of strings, an array of token ids or an array of token arrays.");
    int k = one ? 1 : cJSON_GetArraySize(input);
    if (k == 0) return BAD(err, "input", "invalid_value", "Invalid 'input': empty array.");
    if (!one && cJSON_IsNumber(input->child)) one = true; /* a single token array */
    if (one) k = 1;
    if (k > env->max_inputs)
        return BAD(err, "input", "array_above_max_length",
                   "Invalid 'input': at most %d inputs "
                   "per request, got %d.",
                   (int)env->max_inputs, k);
    in->ids = calloc((size_t)k, sizeof *in->ids);
    in->n = calloc((size_t)k, sizeof *in->n);
    if (!in->ids || !in->n) return no_memory(err);
    in->count = k;
    if (one) return one_input(env, input, 0, in, err);
    int32_t i = 0;
    for (const cJSON *v = input->child; v; v = v->next, i++)
        if (!one_input(env, v, i, in, err)) return false;
    return true;
}

static void base64(buf *out, const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        q[0] = tab[v >> 18 & 63];
        q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        buf_append(out, q, 4);
    }
}

/* Mean of the rows, then divided by its length: a unit vector (zero stays zero). */
static void pool_mean_l2(const float *hidden, int32_t n_tok, int32_t dim, float *out)
{
    double norm = 0;
    for (int32_t j = 0; j < dim; j++) {
        double s = 0;
        for (int32_t t = 0; t < n_tok; t++)
            s += hidden[(size_t)t * (size_t)dim + (size_t)j];
        out[j] = (float)(s / n_tok);
        norm += (double)out[j] * out[j];
    }
    norm = sqrt(norm);
    if (norm > 0)
        for (int32_t j = 0; j < dim; j++)
            out[j] = (float)(out[j] / norm);
}

static void vector_json(buf *out, const float *v, int32_t dim, bool b64)
{
    if (b64) { /* little-endian float32, as the API sends it */
        unsigned char *bytes = malloc((size_t)dim * 4);
        if (!bytes) {
            out->failed = true;
            return;
        }
        for (int32_t j = 0; j < dim; j++) {
            uint32_t u;
            memcpy(&u, &v[j], 4);
            for (int b = 0; b < 4; b++)
                bytes[(size_t)j * 4 + (size_t)b] = (unsigned char)(u >> (8 * b));
        }
        buf_puts(out, "\"");
        base64(out, bytes, (size_t)dim * 4);
        buf_puts(out, "\"");
        free(bytes);
        return;
    }
    buf_puts(out, "[");
    for (int32_t j = 0; j < dim; j++)
        buf_printf(out, "%s%.9g", j ? "," : "", (double)v[j]);
    buf_puts(out, "]");
}

/* Evaluates every input (under the lock) and writes the response. */
static bool embed_all(api_env *env, const inputs *in, bool b64, buf *out, oai_error *err)
{
    int32_t dim = tlm_model_n_embd(env->model);
    tlm_context_params cp = tlm_context_default_params();
    cp.n_ctx = in->longest;
    cp.n_threads = env->n_threads;
    tlm_context *ctx = NULL;
    tlm_error terr = {0};
    bool *mask = calloc((size_t)in->longest, sizeof *mask); /* no logits: the head never runs */
    float *hidden = malloc((size_t)in->longest * (size_t)dim * sizeof *hidden);
    float *vec = malloc((size_t)dim * sizeof *vec);
    bool ok = mask && hidden && vec;
    if (!ok) no_memory(err);
    pthread_mutex_lock(&env->embed_lock);
    if (ok && tlm_context_create(env->model, &cp, &ctx, &terr) != TLM_OK) {
        oai_error_set(err, 500, "server_error", NULL, NULL,
                      "cannot make the embeddings "
                      "context: %s",
                      terr.message);
        ok = false;
    }
    if (ok) buf_puts(out, "{\"object\":\"list\",\"data\":[");
    for (int32_t i = 0; ok && i < in->count; i++) {
        tlm_context_reset(ctx);
        tlm_eval_outputs o = {.logits_mask = mask, .hidden = hidden};
        if (tlm_context_eval_outputs(ctx, in->ids[i], in->n[i], &o) != TLM_OK) {
            oai_error_set(err, 500, "server_error", NULL, NULL, "evaluation failed: %s",
                          tlm_context_error(ctx));
            ok = false;
            break;
        }
        pool_mean_l2(hidden, in->n[i], dim, vec);
        buf_printf(out, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "",
                   (int)i);
        vector_json(out, vec, dim, b64);
        buf_puts(out, "}");
    }
    tlm_context_free(ctx);
    pthread_mutex_unlock(&env->embed_lock);
    free(mask);
    free(hidden);
    free(vec);
    if (!ok) return false;
    buf_puts(out, "],\"model\":");
    buf_json_string(out, env->model_id, strlen(env->model_id));
    buf_printf(out, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}",
               (long long)in->total, (long long)in->total);
    if (out->failed) return no_memory(err);
    metrics_embedded(env->metrics, (int32_t)(in->total > INT32_MAX ? INT32_MAX : in->total));
    return true;
}

bool api_embeddings(api_env *env, const char *body, size_t len, buf *out, oai_error *err)
{
    cJSON *root = oai_parse_json(body, len, err);
    if (!root) return false;
    inputs in = {0};
    bool ok = parse_inputs(env, root, &in, err), b64 = false;
    const cJSON *fmt = ok ? field(root, "encoding_format") : NULL;
    if (fmt) {
        b64 = cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "base64");
        if (!b64 && !(cJSON_IsString(fmt) && !strcmp(fmt->valuestring, "float")))
            ok = BAD(err, "encoding_format", "invalid_value",
                     "Invalid 'encoding_format': "
                     "expected 'float' or 'base64'.");
    }
    const cJSON *dims = ok ? field(root, "dimensions") : NULL;
    int32_t dim = tlm_model_n_embd(env->model);
    if (dims && !(cJSON_IsNumber(dims) && dims->valuedouble == dim))
        ok = BAD(err, "dimensions", "invalid_value",
                 "Invalid 'dimensions': this model's "
                 "embeddings have %d dimensions and cannot be shortened.",
                 (int)dim);
    if (ok) ok = embed_all(env, &in, b64, out, err);
    inputs_free(&in);
    cJSON_Delete(root);
    return ok;
}
