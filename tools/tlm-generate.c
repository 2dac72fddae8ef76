/* tlm-generate - generate text from a prompt, streaming, and report speed and memory.
 * With --chat it holds a conversation on stdin in the model's chat template, keeping the KV
 * cache between turns (each turn evaluates only its new tokens). At the context size it stops
 * with a message, or with --context-shift drops the older half of the positions after --keep
 * and goes on. --prompt-cache saves the evaluated prompt's KV cache and reuses it next time.
 * Sampling is the library's chain (docs/sampling.md); prompt ids and then each generated id
 * enter the penalty history, as llama.cpp does. --stop strings end the output before them. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

typedef struct options {
    model_source src;
    const char *tokenizer_path, *prompt, *tokens, *system, *template_name;
    const char *prompt_cache, *logits_out;
    const char *grammar_file, *schema_file; /* --grammar, --json-schema */
    long long n_predict, n_threads, n_ctx, top_k, keep, repeat_last_n;
    double temp, top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
    tlm_logit_bias *bias; /* --logit-bias, n_bias of them */
    int32_t n_bias;
    const char **stops; /* --stop, n_stops of them */
    int32_t n_stops;
    uint64_t seed;
    bool show_ids, chat, context_shift;
    tlm_context_params cp;
} options;

static void usage(void)
{
    fprintf(stderr,
            "usage: tlm-generate -m MODEL [options]\n"
            "       tlm-generate --preset NAME --random-weights [--type f32|f16|bf16] [options]\n"
            "  -m MODEL        GGUF file, llama2.c .bin or Hugging Face directory\n"
            "  -z TOKENIZER    tokenizer when the model file has none: llama2.c tokenizer.bin,\n"
            "                  or any file tlm-tokenize reads (tokenizer.json, .model, ...)\n"
            "  -p PROMPT       prompt text (default: empty, generation starts from BOS)\n"
            "  --tokens IDS    prompt as token ids, e.g. 1,15043 (no tokenizer needed)\n"
            "  -n N            tokens to generate (default 128)\n"
            "  --temp T        temperature, 0 = greedy (default 0.8)\n"
            "  --top-k K       keep the K most likely tokens, 0 = off (default 40)\n"
            "  --top-p P       nucleus sampling threshold, 1 = off (default 0.95)\n"
            "  --min-p P       keep tokens at least P times as likely as the most likely one,\n"
            "                  0 = off (default 0)\n"
            "  --repeat-penalty R  divide a recent token's positive logit by R, multiply a\n"
            "                  negative one, 1 = off (default 1)\n"
            "  --repeat-last-n N   recent tokens the penalties look at, prompt included;\n"
            "                  0 = none, -1 = all (default 64)\n"
            "  --presence-penalty A   subtract A from a recent token's logit, in [-2, 2]\n"
            "  --frequency-penalty A  subtract A times its count, in [-2, 2] (defaults 0)\n"
            "  --logit-bias ID(+|-)B  add B to token ID's logit, e.g. 15043+1.5; 15043-inf\n"
            "                  bans it (repeatable)\n"
            "  --stop TEXT     stop before TEXT appears in the output, which ends there\n"
            "                  (repeatable; matched across tokens)\n"
            "  --seed S        sampling seed (default 42)\n"
            "  --grammar FILE  constrain the output to a GBNF grammar (llama.cpp's format)\n"
            "  --json-schema FILE  constrain it to JSON valid for a JSON Schema (FILE '-':\n"
            "                  any JSON value); docs/grammar.md\n"
            "  -t THREADS      threads (default: all cores)\n"
            "  -c CTX          context size (default: prompt + N, at most the model's)\n"
            "  --context-shift at the context size keep the first --keep positions, drop the\n"
            "                  older half of the rest and go on (default: stop with a message)\n"
            "  --keep N        positions a context shift keeps (default 0)\n"
            "  --prompt-cache FILE  reuse the prompt's KV cache saved in FILE (made if absent)\n"
            "  --logits-out FILE    write the logits each token was sampled from (float32 "
            "rows)\n" CONTEXT_USAGE "  --show-ids      print generated ids instead of text\n"
            "  --chat          interactive chat: each stdin line is a user turn; the KV cache\n"
            "                  is kept between turns\n"
            "  --system TEXT   system message (chat template); with -p: one turn\n"
            "  --template NAME chat template when the model has none or an unknown one:\n"
            "                  zephyr, phi2, phi3, phi3-nosys, gemma, chatml, qwen\n");
}

/* "ID+B" or "ID-B" (llama.cpp's syntax) appended to o->bias; B may be "inf" after '-' (a ban:
 * the most negative float, since the library takes finite biases only). */
static bool add_logit_bias(options *o, const char *v)
{
    char *end;
    long id = strtol(v, &end, 10);
    double b = 0.0;
    bool ok = end != v && *v >= '0' && *v <= '9' && id <= INT32_MAX && (*end == '+' || *end == '-');
    if (ok) {
        const char *num = end;
        b = strtod(num, &end);
        ok = end != num && *end == '\0' && !isnan(b) && b != INFINITY;
        if (ok && b == -INFINITY) b = -FLT_MAX;
        ok = ok && fabs(b) <= FLT_MAX;
    }
    if (!ok) {
        fprintf(stderr,
                "error: --logit-bias '%s' is not ID+BIAS or ID-BIAS (e.g. 15043+1.5, "
                "15043-inf)\n",
                v);
        return false;
    }
    tlm_logit_bias *grown = realloc(o->bias, ((size_t)o->n_bias + 1) * sizeof *grown);
    if (!grown) return false;
    o->bias = grown;
    o->bias[o->n_bias++] = (tlm_logit_bias){(int32_t)id, (float)b};
    return true;
}

static bool add_stop(options *o, const char *v)
{
    const char **grown = realloc(o->stops, ((size_t)o->n_stops + 1) * sizeof *grown);
    if (!grown) return false;
    o->stops = grown;
    o->stops[o->n_stops++] = v;
    return true;
}

/* The whole file as a string (NULL and a message on failure). */
static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (fp && fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, fp) == (size_t)n) {
        buf[n] = '\0';
    } else {
        fprintf(stderr, "error: cannot read %s\n", path);
        free(buf);
        buf = NULL;
    }
    if (fp) fclose(fp);
    return buf;
}

/* --grammar / --json-schema: the grammar and the vocabulary trie, set on the sampler. */
static bool setup_grammar(const options *o, const tlm_tokenizer *tok, tlm_sampler *sampler,
                          tlm_grammar **g, tlm_grammar_vocab **v)
{
    if (!o->grammar_file && !o->schema_file) return true;
    if (o->grammar_file && o->schema_file) {
        fprintf(stderr, "error: give --grammar or --json-schema, not both\n");
        return false;
    }
    if (!tok || o->chat || o->system) {
        fprintf(stderr, "error: --grammar and --json-schema need a tokenizer and no --chat\n");
        return false;
    }
    const char *path = o->grammar_file ? o->grammar_file : o->schema_file;
    char *text = strcmp(path, "-") || o->grammar_file ? read_text(path) : NULL;
    if (!text && strcmp(path, "-")) return false;
    tlm_error err = {0};
    tlm_status st = o->grammar_file ? tlm_grammar_parse(text, NULL, g, &err)
                                    : tlm_grammar_from_json_schema(text, g, &err);
    free(text);
    if (st == TLM_OK) st = tlm_grammar_vocab_create(tok, v, &err);
    if (st == TLM_OK) st = tlm_sampler_set_grammar(sampler, *g, *v, &err);
    if (st != TLM_OK) fprintf(stderr, "error: %s: %s\n", path, err.message);
    return st == TLM_OK;
}

/* Prints text through the stop-string matcher (when there is one); true once a stop string
 * has appeared, its text and everything after it unprinted. */
static bool put_text(tlm_stop_matcher *stop, const char *text, size_t len)
{
    bool stopped = false;
    if (stop) stopped = tlm_stop_feed(stop, text, len, &text, &len);
    if (text && len) fwrite(text, 1, len, stdout);
    return stopped;
}

static bool parse_args(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        int used = model_source_arg(&o->src, argc, argv, i);
        if (used == 0) used = context_arg(&o->cp, argc, argv, i);
        if (used < 0) return false;
        if (used > 0) {
            i += used - 1;
            continue;
        }
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--show-ids")) {
            o->show_ids = true;
            continue;
        }
        if (!strcmp(a, "--chat")) {
            o->chat = true;
            continue;
        }
        if (!strcmp(a, "--context-shift")) {
            o->context_shift = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return false;
        if (!v) {
            fprintf(stderr, "error: bad argument '%s'\n", a);
            return false;
        }
        long long s;
        bool ok = true;
        if (!strcmp(a, "-z"))
            o->tokenizer_path = v;
        else if (!strcmp(a, "-p"))
            o->prompt = v;
        else if (!strcmp(a, "--tokens"))
            o->tokens = v;
        else if (!strcmp(a, "--system"))
            o->system = v;
        else if (!strcmp(a, "--template"))
            o->template_name = v;
        else if (!strcmp(a, "-n"))
            ok = parse_int(a, v, 0, 1 << 24, &o->n_predict);
        else if (!strcmp(a, "--temp"))
            ok = parse_float(a, v, 0, 100, &o->temp);
        else if (!strcmp(a, "--top-k"))
            ok = parse_int(a, v, 0, 1 << 24, &o->top_k);
        else if (!strcmp(a, "--top-p"))
            ok = parse_float(a, v, 1e-9, 1, &o->top_p);
        else if (!strcmp(a, "--min-p"))
            ok = parse_float(a, v, 0, 1, &o->min_p);
        else if (!strcmp(a, "--repeat-penalty"))
            ok = parse_float(a, v, 1e-6, 1e6, &o->repeat_penalty);
        else if (!strcmp(a, "--repeat-last-n"))
            ok = parse_int(a, v, -1, 1 << 24, &o->repeat_last_n);
        else if (!strcmp(a, "--presence-penalty"))
            ok = parse_float(a, v, -2, 2, &o->presence_penalty);
        else if (!strcmp(a, "--frequency-penalty"))
            ok = parse_float(a, v, -2, 2, &o->frequency_penalty);
        else if (!strcmp(a, "--logit-bias"))
            ok = add_logit_bias(o, v);
        else if (!strcmp(a, "--stop"))
            ok = add_stop(o, v);
        else if (!strcmp(a, "-t"))
            ok = parse_int(a, v, 0, 1024, &o->n_threads);
        else if (!strcmp(a, "--keep"))
            ok = parse_int(a, v, 0, 1 << 22, &o->keep);
        else if (!strcmp(a, "--prompt-cache"))
            o->prompt_cache = v;
        else if (!strcmp(a, "--logits-out"))
            o->logits_out = v;
        else if (!strcmp(a, "--grammar"))
            o->grammar_file = v;
        else if (!strcmp(a, "--json-schema"))
            o->schema_file = v;
        else if (!strcmp(a, "-c"))
            ok = parse_int(a, v, 0, 1 << 22, &o->n_ctx);
        else if (!strcmp(a, "--seed") && (ok = parse_int(a, v, 0, INT64_MAX, &s)))
            o->seed = (uint64_t)s;
        else if (strcmp(a, "--seed") != 0) {
            fprintf(stderr, "error: unknown argument '%s'\n", a);
            return false;
        }
        if (!ok) return false;
        i++;
    }
    return true;
}

/* The prompt as ids: --tokens as given, else BOS + the tokenized text. */
static int32_t *prompt_ids(const options *o, const tlm_tokenizer *tok, int32_t bos, int32_t *n)
{
    if (o->tokens) return parse_ids(o->tokens, n);
    const char *text = o->prompt ? o->prompt : "";
    int32_t cap = (int32_t)strlen(text) + 3;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return NULL;
    if (!tok) {
        if (*text) {
            fprintf(stderr, "error: -p needs a tokenizer (the model has none; give -z)\n");
            free(ids);
            return NULL;
        }
        *n = bos >= 0;
        ids[0] = bos;
        return ids;
    }
    /* BOS when the vocabulary asks for it (not GPT-2/Qwen/StableLM-style ones), or to have a
     * first token at all. */
    bool add_bos = bos >= 0 && (tlm_tokenizer_adds_bos(tok) || !*text);
    if (tlm_tokenize(tok, text, add_bos, ids, cap, n) != TLM_OK) {
        fprintf(stderr, "error: could not tokenize the prompt\n");
        free(ids);
        return NULL;
    }
    return ids;
}

/* Makes room for n more tokens: nothing to do, a context shift (--context-shift), or false
 * after saying why generation stops. The shift keeps the first --keep positions, drops the
 * older half of the rest and moves the newer half down, rotating their cached keys. */
static bool make_room(const options *o, tlm_context *ctx, int32_t n)
{
    int32_t n_past = tlm_context_n_past(ctx), n_ctx = tlm_context_n_ctx(ctx);
    if (n_past + n <= n_ctx) return true;
    if (!o->context_shift) {
        fprintf(stderr,
                "\nstopped: the context is full (%d of %d positions); give a larger -c "
                "or --context-shift\n",
                n_past, n_ctx);
        return false;
    }
    int32_t keep = (int32_t)o->keep, n_discard = (n_past - keep) / 2;
    if (keep >= n_past || n_past - n_discard + n > n_ctx) {
        fprintf(stderr, "\nstopped: the context is full and --keep %d leaves too little to drop\n",
                keep);
        return false;
    }
    if (tlm_context_remove(ctx, keep, keep + n_discard) != TLM_OK ||
        tlm_context_shift(ctx, keep + n_discard, -1, -n_discard) != TLM_OK) {
        fprintf(stderr, "\nstopped: context shift failed: %s\n", tlm_context_error(ctx));
        return false;
    }
    fprintf(stderr, "\n[context shift: kept %d, dropped %d, %d positions used]\n", keep, n_discard,
            tlm_context_n_past(ctx));
    return true;
}

/* ---- chat ----------------------------------------------------------------------------- */

/* The model's chat template (--template overrides); false after saying why when none fits. */
static bool pick_template(const options *o, const tlm_tokenizer *tok, tlm_chat_template *t)
{
    if (o->template_name) {
        *t = tlm_chat_template_from_name(o->template_name);
        if (*t == TLM_CHAT_UNKNOWN)
            fprintf(stderr,
                    "error: --template %s is not one of zephyr, phi2, phi3, phi3-nosys, "
                    "gemma, chatml, qwen\n",
                    o->template_name);
        return *t != TLM_CHAT_UNKNOWN;
    }
    const char *jinja = tlm_tokenizer_chat_template(tok);
    tlm_error err = {0};
    if (!jinja) {
        fprintf(stderr, "error: the model carries no chat template; choose one with --template\n");
        return false;
    }
    if (tlm_chat_template_detect(jinja, t, &err) != TLM_OK) {
        fprintf(stderr, "error: %s\n", err.message);
        return false;
    }
    return true;
}

/* Samples and prints a reply until a stop token or n_predict tokens; the reply's tokens are
 * evaluated (the cache then holds everything but the stop token). */
static tlm_status reply(const options *o, tlm_context *ctx, tlm_sampler *sampler,
                        const tlm_tokenizer *tok, tlm_chat_template t, tlm_detok *d,
                        tlm_stop_matcher *stop, long long n_predict, int32_t *n_gen)
{
    tlm_detok_reset(d, tlm_tokenizer_bos(tok)); /* as after BOS: no SentencePiece dummy space */
    tlm_stop_reset(stop);
    *n_gen = 0;
    bool stopped = false;
    while (*n_gen < n_predict && !stopped) {
        int32_t next = tlm_sampler_sample(sampler, tlm_context_logits(ctx));
        if (tlm_chat_is_stop(t, tok, next)) break;
        tlm_sampler_accept(sampler, next);
        size_t len;
        const char *text = tlm_detok_push(d, next, &len);
        stopped = put_text(stop, text, len);
        fflush(stdout);
        (*n_gen)++;
        if (!make_room(o, ctx, 1)) return TLM_ERR_CONTEXT_FULL;
        tlm_status st = tlm_context_eval(ctx, &next, 1, NULL);
        if (st != TLM_OK) return st;
    }
    size_t len;
    const char *text = tlm_detok_flush(d, &len);
    if (!stopped && !put_text(stop, text, len) && stop) {
        tlm_stop_flush(stop, &text, &len);
        fwrite(text, 1, len, stdout);
    }
    printf("\n");
    fflush(stdout);
    return TLM_OK;
}

/* Ids for the conversation so far (first turn) or its continuation; NULL after a message. */
static int32_t *turn_ids(tlm_chat_template t, const tlm_tokenizer *tok, const tlm_chat_message *m,
                         int32_t n, bool first, int32_t *count)
{
    int32_t need = 0;
    tlm_error err = {0};
    tlm_status st = first ? tlm_chat_tokenize(t, tok, m, n, true, NULL, 0, &need, &err)
                          : tlm_chat_tokenize_continue(t, tok, m, n, NULL, 0, &need, &err);
    int32_t *ids = st == TLM_OK || st == TLM_ERR_BUFFER_TOO_SMALL
                       ? malloc(((size_t)need + 1) * sizeof *ids)
                       : NULL;
    if (ids) {
        st = first ? tlm_chat_tokenize(t, tok, m, n, true, ids, need, count, &err)
                   : tlm_chat_tokenize_continue(t, tok, m, n, ids, need, count, &err);
        if (st == TLM_OK) return ids;
    }
    fprintf(stderr, "error: %s\n", err.message[0] ? err.message : "cannot tokenize the turn");
    free(ids);
    return NULL;
}

/* --system with -p: one turn; --chat: a turn per stdin line. */
static int chat(const options *o, const tlm_tokenizer *tok, tlm_context *ctx, tlm_sampler *sampler,
                tlm_stop_matcher *stop)
{
    tlm_chat_template t;
    if (!pick_template(o, tok, &t)) return 1;
    tlm_detok *d = NULL;
    if (tlm_detok_create(tok, &d) != TLM_OK) return 1;
    char line[1 << 16], folded[(1 << 16) + 4096];
    const char *system = o->system;
    if (system && t == TLM_CHAT_GEMMA) /* Gemma's template has no system role */
        fprintf(stderr, "note: Gemma has no system role; the system text goes before the first "
                        "user message\n");
    if (system && t == TLM_CHAT_PHI3_NOSYS)
        fprintf(stderr, "note: this Phi-3 template drops system messages\n");
    bool first = true;
    int rc = 0;
    while (rc == 0) {
        const char *user = o->prompt;
        if (o->chat) {
            fprintf(stderr, "> ");
            if (!fgets(line, sizeof line, stdin)) break;
            line[strcspn(line, "\n")] = '\0';
            user = line;
        }
        tlm_chat_message m[2];
        int32_t n = 0;
        if (first && system && t == TLM_CHAT_GEMMA) {
            snprintf(folded, sizeof folded, "%s\n\n%s", system, user ? user : "");
            user = folded;
        } else if (first && system) {
            m[n++] = (tlm_chat_message){"system", system};
        }
        m[n++] = (tlm_chat_message){"user", user ? user : ""};
        int32_t count = 0;
        int32_t *ids = turn_ids(t, tok, m, n, first, &count);
        if (!ids) {
            rc = 1;
            break;
        }
        first = false;
        for (int32_t i = 0; i < count; i++)
            tlm_sampler_accept(sampler, ids[i]);
        double t0 = now_seconds();
        tlm_status st = make_room(o, ctx, count) ? tlm_context_eval(ctx, ids, count, NULL)
                                                 : TLM_ERR_CONTEXT_FULL;
        free(ids);
        int32_t n_gen = 0;
        if (st == TLM_OK) st = reply(o, ctx, sampler, tok, t, d, stop, o->n_predict, &n_gen);
        if (st != TLM_OK) {
            fprintf(stderr, "stopped: %s\n", tlm_context_error(ctx));
            rc = 1;
        }
        fprintf(stderr, "[%d new prompt tokens, %d generated, %.2f s, %d of %d positions used]\n",
                (int)count, (int)n_gen, now_seconds() - t0, (int)tlm_context_n_past(ctx),
                (int)tlm_context_n_ctx(ctx));
        if (!o->chat) break;
    }
    tlm_detok_free(d);
    return rc;
}

/* --prompt-cache: loads FILE if it exists and keeps the longest prefix of the prompt it
 * holds; *n_done gets the prompt tokens that need no evaluation (all of them when the file
 * holds exactly the prompt and its logits). False after a message (a file of another model,
 * a damaged file). */
static bool reuse_prompt_cache(const char *path, tlm_context *ctx, const int32_t *ids,
                               int32_t n_prompt, int32_t *n_done)
{
    *n_done = 0;
    if (access(path, F_OK) != 0) return true; /* made after the prompt is evaluated */
    tlm_error err = {0};
    if (tlm_context_load(ctx, path, &err) != TLM_OK) {
        fprintf(stderr, "error: prompt cache: %s\n", err.message);
        return false;
    }
    int32_t n_hist = 0, c = 0;
    const int32_t *hist = tlm_context_tokens(ctx, &n_hist);
    while (c < n_hist && c < n_prompt && hist[c] == ids[c])
        c++;
    if (c == n_hist && c == n_prompt && tlm_context_logits(ctx)) {
        *n_done = n_prompt;
    } else {
        /* keep what matches, but evaluate at least the last prompt token for its logits */
        int32_t keep = c < n_prompt ? c : n_prompt - 1;
        if (tlm_context_remove(ctx, keep, -1) != TLM_OK) {
            tlm_context_reset(ctx); /* e.g. a window cache that no longer holds those keys */
            keep = 0;
        }
        *n_done = keep;
    }
    fprintf(stderr, "prompt cache: %d of %d prompt tokens reused from %s\n", *n_done, n_prompt,
            path);
    return true;
}

int main(int argc, char **argv)
{
    options o = {.src = {.seed = 1, .type = TLM_TYPE_F16},
                 .n_predict = 128,
                 .temp = 0.8,
                 .top_k = 40,
                 .top_p = 0.95,
                 .seed = 42,
                 .repeat_penalty = 1.0,
                 .repeat_last_n = 64,
                 .cp = tlm_context_default_params()};
    if (!parse_args(argc, argv, &o)) {
        usage();
        free(o.bias);
        free(o.stops);
        return 2;
    }
    tlm_model *model = model_source_open(&o.src, (int)o.n_threads);
    if (!model) {
        free(o.bias);
        free(o.stops);
        return 1;
    }
    const tlm_model_info *info = tlm_model_get_info(model);
    tlm_error err = {0};
    /* without one, ids only: fine with --tokens or an empty prompt and --show-ids */
    tlm_tokenizer *tok = tokenizer_open(o.tokenizer_path, &o.src, model, false);
    if (!tok && o.tokenizer_path) {
        tlm_model_free(model);
        return 1;
    }
    if ((o.chat || o.system) && o.prompt_cache) {
        fprintf(stderr, "error: --prompt-cache works with -p or --tokens, not with --chat or "
                        "--system\n");
        tlm_tokenizer_free(tok);
        tlm_model_free(model);
        return 1;
    }
    if ((o.chat || o.system) && !tok) {
        fprintf(stderr, "error: --chat and --system need a tokenizer (give -z)\n");
        tlm_model_free(model);
        return 1;
    }
    int32_t bos = tok ? tlm_tokenizer_bos(tok) : info->bos_id;
    int32_t eos = tok ? tlm_tokenizer_eos(tok) : info->eos_id;

    int rc = 1;
    int32_t n_prompt = 0;
    bool chatting = o.chat || o.system;
    int32_t *ids = chatting ? NULL : prompt_ids(&o, tok, bos, &n_prompt);
    tlm_context *ctx = NULL;
    tlm_sampler *sampler = NULL;
    tlm_detok *detok = NULL;
    tlm_stop_matcher *stop = NULL;
    tlm_grammar *grammar = NULL;
    tlm_grammar_vocab *gvocab = NULL;
    if (chatting)
        n_prompt = 1; /* the context is sized below; the turns come later */
    else if (!ids)
        goto done;
    if (n_prompt == 0) {
        fprintf(stderr, "error: empty prompt and no BOS token; give -p or --tokens\n");
        goto done;
    }
    if (!tok && !o.show_ids) o.show_ids = true;
    if (o.n_stops && (o.show_ids || !tok)) {
        fprintf(stderr, "error: --stop matches text: it needs a tokenizer and no --show-ids\n");
        goto done;
    }

    tlm_context_params cp = o.cp;
    long long want = o.n_ctx ? o.n_ctx : chatting ? info->n_ctx_train : n_prompt + o.n_predict;
    cp.n_ctx = (int32_t)(want < info->n_ctx_train || o.n_ctx ? want : info->n_ctx_train);
    cp.n_threads = (int32_t)o.n_threads;
    tlm_sampler_params sp = tlm_sampler_default_params();
    sp.temperature = (float)o.temp;
    sp.top_k = (int32_t)o.top_k;
    sp.top_p = (float)o.top_p;
    sp.seed = o.seed;
    sp.min_p = (float)o.min_p;
    sp.repeat_penalty = (float)o.repeat_penalty;
    sp.repeat_last_n = (int32_t)o.repeat_last_n;
    sp.presence_penalty = (float)o.presence_penalty;
    sp.frequency_penalty = (float)o.frequency_penalty;
    sp.logit_bias = o.bias;
    sp.n_logit_bias = o.n_bias;
    if (tlm_context_create(model, &cp, &ctx, &err) != TLM_OK ||
        tlm_sampler_create(&sp, info->n_vocab, &sampler, &err) != TLM_OK ||
        (o.n_stops && tlm_stop_create(o.stops, o.n_stops, &stop, &err) != TLM_OK)) {
        fprintf(stderr, "error: %s\n", err.message);
        goto done;
    }
    if (!setup_grammar(&o, tok, sampler, &grammar, &gvocab)) goto done;
    if (chatting) {
        rc = chat(&o, tok, ctx, sampler, stop);
        goto done;
    }
    if (tok && tlm_detok_create(tok, &detok) != TLM_OK) goto done;
    if (detok) tlm_detok_reset(detok, ids[n_prompt - 1]);
    for (int32_t i = 0; i < n_prompt; i++) /* llama.cpp's rule: the prompt counts too */
        tlm_sampler_accept(sampler, ids[i]);

    double t0 = now_seconds();
    int32_t n_done = 0; /* prompt tokens whose K/V came from the prompt cache */
    if (o.prompt_cache && !reuse_prompt_cache(o.prompt_cache, ctx, ids, n_prompt, &n_done))
        goto done;
    if (n_done < n_prompt &&
        tlm_context_eval(ctx, ids + n_done, n_prompt - n_done, NULL) != TLM_OK) {
        fprintf(stderr, "error: %s\n", tlm_context_error(ctx));
        goto done;
    }
    if (o.prompt_cache && n_done < n_prompt) {
        if (tlm_context_save(ctx, o.prompt_cache, &err) != TLM_OK) {
            fprintf(stderr, "error: %s\n", err.message);
            goto done;
        }
        fprintf(stderr, "prompt cache: saved %d prompt tokens to %s\n", n_prompt, o.prompt_cache);
    }
    double t1 = now_seconds();
    int32_t n_gen = 0;
    bool stopped = false; /* on a --stop string */
    FILE *logits_fp = o.logits_out ? fopen(o.logits_out, "wb") : NULL;
    if (o.logits_out && !logits_fp) {
        fprintf(stderr, "error: cannot create %s\n", o.logits_out);
        goto done;
    }
    while (n_gen < o.n_predict) {
        const float *lg = tlm_context_logits(ctx);
        if (logits_fp &&
            fwrite(lg, sizeof(float), (size_t)info->n_vocab, logits_fp) != (size_t)info->n_vocab) {
            fprintf(stderr, "error: cannot write %s\n", o.logits_out);
            break;
        }
        int32_t next = tlm_sampler_sample(sampler, lg);
        n_gen++;
        if (next < 0) {
            fprintf(stderr, "\nstopped: the grammar allows no further token\n");
            break;
        }
        if (next == eos) break;
        tlm_sampler_accept(sampler, next);
        if (grammar && tlm_sampler_grammar_accept(sampler, next, &err) != TLM_OK) {
            fprintf(stderr, "\nerror: %s\n", err.message);
            break;
        }
        if (o.show_ids)
            printf("%s%d", n_gen > 1 ? " " : "", next);
        else { /* whole UTF-8 characters only: a piece may end inside one */
            size_t len;
            const char *text = tlm_detok_push(detok, next, &len);
            stopped = put_text(stop, text, len);
        }
        fflush(stdout);
        if (n_gen == o.n_predict || stopped) break;
        if (!make_room(&o, ctx, 1)) break;
        if (tlm_context_eval(ctx, &next, 1, NULL) != TLM_OK) {
            fprintf(stderr, "\nstopped: %s\n", tlm_context_error(ctx));
            break;
        }
    }
    double t2 = now_seconds();
    if (logits_fp && fclose(logits_fp) != 0)
        fprintf(stderr, "error: cannot write %s\n", o.logits_out);
    if (detok && !o.show_ids && !stopped) {
        size_t len;
        const char *text = tlm_detok_flush(detok, &len);
        if (!put_text(stop, text, len) && stop) {
            tlm_stop_flush(stop, &text, &len); /* no stop string came: the held-back text */
            fwrite(text, 1, len, stdout);
        }
    }
    printf("\n");
    if (grammar && !tlm_sampler_grammar_can_end(sampler))
        fprintf(stderr, "grammar: output incomplete (ran out of tokens before the grammar "
                        "could end)\n");
    fprintf(stderr,
            "prompt: %d tokens, %.2f tok/s | generation: %d tokens, %.2f tok/s | "
            "peak memory %.1f MiB | kernels %s\n",
            n_prompt, n_prompt / (t1 - t0), n_gen, n_gen > 1 ? (n_gen - 1) / (t2 - t1) : 0.0,
            (double)peak_rss_bytes() / (1 << 20), tlm_kernels_isa());
    rc = 0;
done:
    free(ids);
    free(o.bias);
    free(o.stops);
    tlm_stop_free(stop);
    tlm_detok_free(detok);
    tlm_sampler_free(sampler);
    tlm_grammar_free(grammar);
    tlm_grammar_vocab_free(gvocab);
    tlm_context_free(ctx);
    tlm_tokenizer_free(tok);
    tlm_model_free(model);
    return rc;
}
