/* fuzz_spmodel - a SentencePiece tokenizer.model (protobuf): tlm_tokenizer_load, encode,
 * decode. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    fz_write("tokenizer.model", data, size);
    fz_tokenizer_path(fz_path("tokenizer.model"));
    return 0;
}
