/* fuzz_tokenize - encode and decode of hostile text on the real vocabularies in
 * $TLM_SHARED/vocab and $TLM_SHARED/models (every reader: tokenizer.model, tokenizer.bin,
 * GGUF "llama" and "gpt2", vocab.json + merges.txt, tiktoken). Does nothing when none is
 * there (tests/fuzz/run.sh then reports the target as skipped).
 *
 * Input: byte 0 picks the vocabulary (low 4 bits) and what to do (high 4 bits: parse special
 * tokens, add BOS, render as a chat turn); the rest is the text. Checked for every input: ids
 * in range, detok output well-formed UTF-8, and for byte-level BPE vocabularies without
 * normalisation that the pieces give back the text exactly. */
#include "fuzz_common.h"

typedef struct vocab {
    const char *rel;
    int32_t llama2c_n_vocab; /* > 0: tokenizer.bin */
    int exact;               /* pieces concatenate to the input (no normaliser) */
    tlm_tokenizer *tok;
} vocab;

static vocab vocabs[] = {
    {"vocab/llama2/tokenizer.model", 0, 0, NULL},
    {"vocab/llama2/tokenizer.bin", 32000, 0, NULL},
    {"models/tok512.bin", 512, 0, NULL},
    {"vocab/llamacpp/ggml-vocab-llama-spm.gguf", 0, 0, NULL},
    {"vocab/llamacpp/ggml-vocab-phi-3.gguf", 0, 0, NULL},
    {"vocab/llamacpp/ggml-vocab-gpt-2.gguf", 0, 1, NULL},
    {"vocab/llamacpp/ggml-vocab-stablelm2.gguf", 0, 1, NULL},
    {"vocab/phi-2/vocab.json", 0, 1, NULL},
    {"vocab/phi-2/tokenizer.json", 0, 1, NULL},
    {"vocab/qwen2", 0, 0, NULL},
    {"vocab/qwen/qwen.tiktoken", 0, 0, NULL},
};
enum { N_VOCABS = sizeof vocabs / sizeof vocabs[0] };
static int n_loaded;
static vocab *loaded[N_VOCABS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *shared = getenv("TLM_SHARED");
    if (!shared) shared = "../shared";
    for (int i = 0; i < N_VOCABS; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", shared, vocabs[i].rel);
        tlm_error err;
        tlm_status st =
            vocabs[i].llama2c_n_vocab
                ? tlm_tokenizer_load_llama2c(path, vocabs[i].llama2c_n_vocab, &vocabs[i].tok, &err)
                : tlm_tokenizer_load(path, &vocabs[i].tok, &err);
        if (st == TLM_OK) loaded[n_loaded++] = &vocabs[i];
    }
    fprintf(stderr, "fuzz_tokenize: %d of %d vocabularies under %s\n", n_loaded, N_VOCABS, shared);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (n_loaded == 0 || size < 1) return -1;
    const vocab *v = loaded[(data[0] & 15) % n_loaded];
    int special = data[0] >> 4 & 1, bos = data[0] >> 5 & 1, chat = data[0] >> 6 & 3;
    char *text = malloc(size);
    if (!text) return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t len = strlen(text);

    int32_t n = 0;
    int32_t *ids = fz_tokenize(v->tok, text, special, bos, &n);
    fz_require(ids != NULL, "tokenize failed on text below the size cap");
    if (v->exact && !special && !bos) { /* byte-level BPE keeps every byte */
        char *back = malloc(len + 1);
        size_t at = 0;
        for (int32_t i = 0; i < n && back; i++) {
            size_t plen;
            const char *p = tlm_token_piece(v->tok, i ? ids[i - 1] : -1, ids[i], &plen);
            fz_require(at + plen <= len, "pieces longer than the text");
            memcpy(back + at, p, plen);
            at += plen;
        }
        fz_require(!back || (at == len && memcmp(back, text, len) == 0), "round trip");
        free(back);
    }
    free(ids);

    if (chat) { /* the text as a user turn of each template family */
        tlm_chat_message msgs[2] = {{"user", text}, {"assistant", text}};
        tlm_chat_template t = (tlm_chat_template)(1 + (data[0] + chat) % 7);
        int32_t cap = (int32_t)(4 * len + 256), got = 0;
        int32_t *cids = malloc((size_t)cap * sizeof *cids);
        tlm_status st = cids ? tlm_chat_tokenize(t, v->tok, msgs, chat == 3 ? 2 : 1, true, cids,
                                                 cap, &got, NULL)
                             : TLM_ERR_NO_MEMORY;
        for (int32_t i = 0; st == TLM_OK && i < got; i++)
            fz_require(cids[i] >= 0 && cids[i] < tlm_tokenizer_n_vocab(v->tok), "chat id range");
        free(cids);
        size_t rlen = 0;
        char buf[256];
        tlm_chat_render(t, v->tok, msgs, 1, true, buf, sizeof buf, &rlen, NULL);
    }
    fz_require(tlm_tokenizer_find(v->tok, text) < tlm_tokenizer_n_vocab(v->tok), "find range");
    free(text);
    return 0;
}
