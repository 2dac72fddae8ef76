/* fuzz_llama2c - a llama2.c checkpoint (legacy .bin): tlm_model_load, then a few tokens. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init();
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) return -1; /* fuzz_gguf's input */
    fz_write("model.bin", data, size);
    fz_model_path(fz_path("model.bin"));
    return 0;
}
