/* test_weights_memory.c - a loaded model holds its weights once. The interleaved matrices move
 * to their own region (lib/model/model_interleave.c) and give back the pages they came from:
 * the preset's own buffers and, for a GGUF file, the file's pages. Measured as the process's
 * resident memory (VmRSS) after each load against the model's weight bytes: without the
 * release the weights would be resident twice. Linux only (/proc/self/status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "tinylm.h"

enum { N_CHECKS = 7 }; /* what main checks: two loads, a save, two pairs of bounds */

/* Resident bytes of this process, 0 when /proc cannot say. */
static uint64_t rss(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    if (!fp) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, "VmRSS: %llu kB", &kb) == 1) break;
    fclose(fp);
    return (uint64_t)kb * 1024;
}

/* Resident memory of a model just loaded, beyond what the process held before, against its
 * weight bytes: under 1.25 times them (twice, had the source pages stayed). */
static void check_once(const char *what, uint64_t before, const tlm_model *m)
{
    const uint64_t w = tlm_model_get_info(m)->weight_bytes, grew = rss() - before;
    CHECK(grew < w + w / 4, "%s: resident memory grew by %.0f MB for %.0f MB of weights", what,
          (double)grew / 1e6, (double)w / 1e6);
    CHECK(grew > w / 2,
          "%s: resident memory grew by only %.0f MB for %.0f MB of weights (the "
          "measurement itself is wrong)",
          what, (double)grew / 1e6, (double)w / 1e6);
}

int main(void)
{
#if defined(__SANITIZE_ADDRESS__)
    SKIP(N_CHECKS, "resident memory under AddressSanitizer includes its shadow and quarantine");
    return finish("weights_memory");
#endif
    if (rss() == 0) {
        SKIP(N_CHECKS, "no /proc/self/status");
        return finish("weights_memory");
    }
    char dir[] = "/tmp/tlm_test_wmem_XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK(false, "mkdtemp");
        return finish("weights_memory");
    }
    char path[512];
    snprintf(path, sizeof path, "%s/m.gguf", dir);

    /* a preset's random weights: made in owned buffers, then interleaved out of them */
    tlm_preset_params pp = tlm_preset_default_params();
    pp.weight_type = TLM_TYPE_F16;
    tlm_model *m = NULL;
    tlm_error err = {0};
    uint64_t before = rss();
    tlm_status st = tlm_model_load_preset("mobilellm-350m", &pp, &m, &err);
    CHECK(st == TLM_OK, "preset: %s", err.message);
    if (st == TLM_OK) {
        check_once("preset", before, m);
        st = tlm_model_save_gguf(m, path, NULL, &err);
        CHECK(st == TLM_OK, "save: %s", err.message);
    }
    tlm_model_free(m);
    m = NULL;

    /* the same weights from a GGUF file: mapped, then interleaved out of the mapping */
    if (st == TLM_OK) {
        tlm_model_params mp = tlm_model_default_params();
        before = rss();
        st = tlm_model_load(path, &mp, &m, &err);
        CHECK(st == TLM_OK, "load %s: %s", path, err.message);
        if (st == TLM_OK) check_once("gguf", before, m);
        tlm_model_free(m);
    }
    unlink(path);
    rmdir(dir);
    return finish("weights_memory");
}
