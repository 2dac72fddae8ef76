/* fuzz_gguf_vocab - the tokenizer.ggml.* vocabulary of a GGUF file ("llama" SentencePiece or
 * "gpt2" byte-level BPE): tlm_tokenizer_load, then encode and decode. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (size < 4 || memcmp(data, "GGUF", 4) != 0) return -1; /* other readers have targets */
    fz_write("vocab.gguf", data, size);
    fz_tokenizer_path(fz_path("vocab.gguf"));
    return 0;
}
