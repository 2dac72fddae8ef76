/* fuzz_hf_config - config.json of a Hugging Face directory whose model.safetensors is the valid
 * one of tests/corpus.h: tlm_model_load on the directory, then a few tokens. */
#include "corpus.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    fz_init();
    if (!ready) {
        wbuf st;
        cm_safetensors(&st, SM_NONE);
        fz_write("model.safetensors", st.p, st.n);
        wb_free(&st);
        ready = 1;
    }
    fz_write("config.json", data, size);
    fz_model_path(fz_dir);
    return 0;
}
