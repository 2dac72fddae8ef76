/* fuzz_safetensors - model.safetensors of a Hugging Face directory whose config.json is the
 * valid one of tests/corpus.h: tlm_model_load on the directory, then a few tokens. */
#include "corpus.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    fz_init();
    if (!ready) {
        wbuf cfg;
        cm_config(&cfg, CF_NONE);
        fz_write("config.json", cfg.p, cfg.n);
        wb_free(&cfg);
        ready = 1;
    }
    fz_write("model.safetensors", data, size);
    fz_model_path(fz_dir);
    return 0;
}
