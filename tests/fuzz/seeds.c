/* seeds - writes the seed corpus of every fuzz target: `seeds DIR` fills DIR/<target>/ with
 * the valid and malformed files of tests/corpus.h (as each target reads its input) and
 * DIR/fuzz_tokenize/ with a few texts. Nothing is copied from ../shared. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "corpus.h"

static const char *out_dir;
static int n_written;

static void put(const char *target, const char *name, const void *a, size_t na, const void *b,
                size_t nb)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fuzz_%s", out_dir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/fuzz_%s/%s", out_dir, target, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(a, 1, na, fp) != na || (nb && fwrite(b, 1, nb, fp) != nb) || fclose(fp)) {
        perror(path);
        exit(1);
    }
    n_written++;
}

static void on_case(void *ctx, const ccase *c)
{
    (void)ctx;
    const wbuf *f = &c->files[0].data;
    if (!strcmp(c->fuzz, "vocab_merges")) { /* vocab.json NUL merges.txt */
        const wbuf *m = &c->files[1].data;
        wbuf b = {0};
        wb_put(&b, f->p, f->n);
        wb_u8(&b, 0);
        wb_put(&b, m->p, m->n);
        put(c->fuzz, c->name, b.p, b.n, NULL, 0);
        wb_free(&b);
    } else if (c->load == CL_MODEL_DIR && c->n_files == 2) { /* config.json NUL weights */
        int cfg = strcmp(c->files[0].name, "config.json") != 0;
        const wbuf *a = &c->files[cfg].data, *w = &c->files[!cfg].data;
        put(c->fuzz, c->name, f->p, f->n, NULL, 0);
        wbuf b = {0};
        wb_put(&b, a->p, a->n);
        wb_u8(&b, 0);
        wb_put(&b, w->p, w->n);
        put("hf_dir", c->name, b.p, b.n, NULL, 0);
        wb_free(&b);
    } else if (!strcmp(c->fuzz, "tokenizer_bin")) { /* n_vocab - 1, then the file */
        uint8_t nv[2] = {CM_VOCAB - 1, 0};
        put(c->fuzz, c->name, nv, 2, f->p, f->n);
    } else if (!strcmp(c->fuzz, "tiktoken")) { /* the head: the target appends the rest */
        size_t n = 0;
        for (int lines = 0; n < f->n && lines < 64; n++)
            lines += f->p[n] == '\n';
        put(c->fuzz, c->name, f->p, n, NULL, 0);
    } else {
        put(c->fuzz, c->name, f->p, f->n, NULL, 0);
        if (!strcmp(c->fuzz, "gguf")) put("gguf_vocab", c->name, f->p, f->n, NULL, 0);
        if (!strcmp(c->fuzz, "gguf_vocab") && c->want == TLM_OK)
            put("gguf", c->name, f->p, f->n, NULL, 0);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seeds DIR\n");
        return 2;
    }
    out_dir = argv[1];
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        perror(out_dir);
        return 1;
    }
    corpus_each(on_case, NULL);
    static const char *const texts[] = {
        "Hello world! How are you?",
        " leading and  double  spaces\tand\ttabs\n\nnewlines ",
        "caf\xC3\xA9 na\xC3\xAFve \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xE2\x96\x81",
        "ill-formed \xff\xfe \xC3 \xE2\x82 \xED\xA0\x80 \xF4\x90\x80\x80 end",
        "<s></s><|endoftext|><|im_start|>user\nhi<|im_end|><|user|><|end|><start_of_turn>",
        "1234567890 3.14159 $%&/()=?` {\"json\": [1, 2]}",
        "e\xCC\x81 A\xCC\x8A \xEA\xB0\x80\xE1\x86\xA8",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        for (int sel = 0; sel < 16; sel++) {
            char name[32];
            uint8_t head = (uint8_t)(sel | (i % 8) << 4);
            snprintf(name, sizeof name, "text%zu_vocab%d", i, sel);
            put("tokenize", name, &head, 1, texts[i], strlen(texts[i]));
        }
    static const char *const side[] = {
        /* byte 0: vocabulary + 3 * file (see the target) */
        "{\"bos_token\": \"<s>\", \"eos_token\": {\"content\": \"</s>\"}, \"add_bos_token\": "
        "true, \"chat_template\": \"{% for m in messages %}{{ m.content }}{% endfor %}\"}",
        "{\"added_tokens_decoder\": {\"20\": {\"content\": \"<|user|>\", \"special\": true}, "
        "\"21\": {\"content\": \"  \", \"special\": false}}, \"eos_token\": \"<|user|>\"}",
        "{\"chat_template\": [{\"name\": \"default\", \"template\": \"x\"}, {\"name\": "
        "\"tool_use\", \"template\": \"y\"}], \"add_bos_token\": false}",
        "{\"bos_token\": \"<|endoftext|>\", \"unk_token\": {\"content\": \"a\"}}",
        "{\"<|im_start|>\": 8, \"<|im_end|>\": 9}",
    };
    for (size_t i = 0; i < sizeof side / sizeof side[0]; i++)
        for (int k = 0; k < 3; k++) {
            char name[32];
            int f = i == 4 ? 2 : i == 3 ? 1 : 0;
            uint8_t head = (uint8_t)(k + 3 * f);
            snprintf(name, sizeof name, "side%zu_vocab%d", i, k);
            put("tokenizer_config", name, &head, 1, side[i], strlen(side[i]));
        }
    static const char *const bodies[] = {
        /* byte 0: odd = chat, even = completions */
        "{\"model\": \"m\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, "
        "{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}], "
        "\"stream\": true, \"stream_options\": {\"include_usage\": true}, \"max_tokens\": 8}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"temperature\": 0.5, "
        "\"top_p\": 0.9, \"stop\": [\"a\", \"bc\"], \"seed\": 7, \"presence_penalty\": 1, "
        "\"frequency_penalty\": -1, \"logit_bias\": {\"5\": -100, \"7\": 3.5}, \"n\": 1}",
        "{\"prompt\": \"Once upon a time\", \"max_tokens\": 16, \"stop\": \"\\n\"}",
        "{\"prompt\": [[1, 2, 3]], \"max_completion_tokens\": 4, \"echo\": false}",
        /* a list of prompts (text and ids) with n > 1 */
        "{\"prompt\": [\"Once\", [1, 2], \"upon\"], \"n\": 2, \"max_tokens\": 3, \"seed\": 9}",
        /* chat: tools, a forced call and a tool-call history; response_format */
        "{\"messages\": [{\"role\": \"user\", \"content\": \"w\"}, {\"role\": \"assistant\", "
        "\"content\": null, \"tool_calls\": [{\"id\": \"c\", \"type\": \"function\", \"function\": "
        "{\"name\": \"f\", \"arguments\": \"{\\\"a\\\": 1.5}\"}}]}, {\"role\": \"tool\", "
        "\"tool_call_id\": \"c\", \"content\": \"ok\"}], \"tools\": [{\"type\": \"function\", "
        "\"function\": {\"name\": \"f\", \"parameters\": {\"type\": \"object\", \"properties\": "
        "{\"a\": {\"type\": \"number\"}}}}}], \"tool_choice\": \"required\"}",
        "{\"messages\": [{\"role\": \"user\", \"content\": \"j\"}], \"response_format\": "
        "{\"type\": "
        "\"json_schema\", \"json_schema\": {\"name\": \"n\", \"schema\": {\"type\": \"array\", "
        "\"items\": {\"enum\": [1, \"x\"]}, \"maxItems\": 2}}}}",
        /* chat logprobs with alternatives */
        ("{\"messages\": [{\"role\": \"user\", \"content\": \"l\"}], \"logprobs\": true, "
         "\"top_logprobs\": 3}"),
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        char name[32];
        uint8_t head = (uint8_t)(i < 2 || i > 4 ? 1 : 0);
        snprintf(name, sizeof name, "body%zu", i);
        put("server_request", name, &head, 1, bodies[i], strlen(bodies[i]));
    }
    printf("seeds: %d files in %s\n", n_written, out_dir);
    return 0;
}
