/* test_mapped_file.c - lib/format/mapped_file.c, the one opener of the GGUF, safetensors,
 * llama2.c and config.json readers: a directory, a FIFO, a device, an empty, a short and a
 * missing file are each refused with a message naming the path and what it is (strerror's
 * text for system errors), directly and through every reader; a FIFO never blocks (an alarm
 * turns a hang into a failure). A regular file maps whole, private and writable: writing the
 * map leaves the file as it was. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf_read.h"
#include "harness.h"
#include "mapped_file.h"
#include "safetensors_read.h"

static char tmpdir[64];

static const char *in_tmp(const char *name)
{
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp || (n && fwrite(data, 1, n, fp) != n) || fclose(fp) != 0) {
        printf("test_mapped_file: cannot write %s\n", path);
        exit(2);
    }
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* One refusal: the status, the path and every needle in the message. */
static void expect(const char *what, tlm_status st, const tlm_error *err, tlm_status want,
                   const char *path, const char *needle, const char *needle2)
{
    if (getenv("TLM_TEST_VERBOSE")) printf("  %s -> %d: %s\n", what, (int)st, err->message);
    check(st == want, "%s: status %d, want %d (%s)", what, (int)st, (int)want, err->message);
    check(strstr(err->message, path) != NULL, "%s: message does not name %s: %s", what, path,
          err->message);
    check(strstr(err->message, needle) != NULL, "%s: message lacks '%s': %s", what, needle,
          err->message);
    if (needle2)
        check(strstr(err->message, needle2) != NULL, "%s: message lacks '%s': %s", what, needle2,
              err->message);
}

static void opener(void)
{
    tlm_mapped_file mf;
    tlm_error err = {0};
    const char *dir = in_tmp("dir"), *fifo = in_tmp("fifo"), *empty = in_tmp("empty"),
               *missing = in_tmp("missing.gguf");
    tlm_status st = tlm_map_file(dir, 1, NULL, &mf, &err);
    expect("directory", st, &err, TLM_ERR_IO, dir, "a directory", "not a regular file");
    check(mf.data == NULL && mf.size == 0, "directory: out not zeroed");
    st = tlm_map_file(fifo, 1, NULL, &mf, &err);
    expect("FIFO", st, &err, TLM_ERR_IO, fifo, "a FIFO", NULL);
    st = tlm_map_file("/dev/null", 1, NULL, &mf, &err);
    expect("/dev/null", st, &err, TLM_ERR_IO, "/dev/null", "a character device", NULL);
    st = tlm_map_file(empty, 1, NULL, &mf, &err);
    expect("empty", st, &err, TLM_ERR_FORMAT, empty, "file is empty", NULL);
    st = tlm_map_file(empty, 0, NULL, &mf, &err); /* 0 is taken as 1 */
    expect("empty, min 0", st, &err, TLM_ERR_FORMAT, empty, "file is empty", NULL);
    st = tlm_map_file(missing, 1, NULL, &mf, &err);
    expect("missing", st, &err, TLM_ERR_IO, missing, strerror(ENOENT), "cannot open");
    st = tlm_map_file(in_tmp("short"), 24, "a GGUF header", &mf, &err);
    expect("short", st, &err, TLM_ERR_FORMAT, in_tmp("short"),
           "10 bytes, smaller than a GGUF "
           "header (24)",
           NULL);
    check(tlm_map_file(NULL, 1, NULL, &mf, &err) == TLM_ERR_ARG, "NULL path accepted");
    check(tlm_map_file(dir, 1, NULL, NULL, &err) == TLM_ERR_ARG, "NULL out accepted");

    /* a regular file: all of it, private and writable */
    const char *ok = in_tmp("ok");
    st = tlm_map_file(ok, 5, "five bytes", &mf, &err);
    check(st == TLM_OK && mf.size == 6 && mf.data && memcmp(mf.data, "abcdef", 6) == 0,
          "regular file: status %d, size %llu: %s", (int)st, (unsigned long long)mf.size,
          err.message);
    if (st == TLM_OK) {
        mf.data[0] = 'X'; /* as interleaving does: the file must not change */
        tlm_unmap_file(&mf);
        check(mf.data == NULL, "unmap does not zero the struct");
        char back[8] = {0};
        FILE *fp = fopen(ok, "rb");
        size_t n = fp ? fread(back, 1, sizeof back, fp) : 0;
        if (fp) fclose(fp);
        check(n == 6 && memcmp(back, "abcdef", 6) == 0, "writing the map changed the file");
    }
    tlm_unmap_file(&mf); /* zeroed: a no-op */
    tlm_unmap_file(NULL);
}

/* Every reader goes through the opener: the same refusals and no hang on a FIFO. */
static void readers(void)
{
    const char *dir = in_tmp("dir"), *fifo = in_tmp("fifo"), *empty = in_tmp("empty"),
               *missing = in_tmp("missing.gguf");
    const char *bad[4] = {fifo, empty, missing, "/dev/null"};
    const char *needle[4] = {"a FIFO", "file is empty", strerror(ENOENT), "a character device"};
    const tlm_status want[4] = {TLM_ERR_IO, TLM_ERR_FORMAT, TLM_ERR_IO, TLM_ERR_IO};
    for (int i = 0; i < 4; i++) {
        char what[64];
        tlm_error err = {0};
        gguf_file *g = NULL;
        snprintf(what, sizeof what, "gguf %d", i);
        expect(what, tlm_gguf_open(bad[i], &g, &err), &err, want[i], bad[i], needle[i], NULL);
        check(g == NULL, "%s: out set", what);
        st_set *s = NULL;
        snprintf(what, sizeof what, "safetensors %d", i);
        expect(what, tlm_st_open(bad[i], &s, &err), &err, want[i], bad[i], needle[i], NULL);
        check(s == NULL, "%s: out set", what);
        tlm_model *m = NULL;
        snprintf(what, sizeof what, "model_load %d", i);
        expect(what, tlm_model_load(bad[i], NULL, &m, &err), &err, want[i], bad[i], needle[i],
               NULL);
        check(m == NULL, "%s: out set", what);
    }
    tlm_error err = {0};
    gguf_file *g = NULL;
    expect("gguf on a directory", tlm_gguf_open(dir, &g, &err), &err, TLM_ERR_IO, dir,
           "a directory", NULL);
    /* a GGUF magic with nothing after it: the opener's size limit, not the parser's */
    const char *magic = in_tmp("magic.gguf");
    write_bytes(magic, "GGUF", 4);
    tlm_model *m = NULL;
    expect("GGUF magic only", tlm_model_load(magic, NULL, &m, &err), &err, TLM_ERR_FORMAT, magic,
           "smaller than a GGUF header (24)", NULL);
    /* a Hugging Face directory whose config.json is a FIFO (fopen would have waited) */
    const char *hf = in_tmp("hf"), *cfg = in_tmp("hf/config.json");
    if (mkdir(hf, 0700) != 0 || mkfifo(cfg, 0600) != 0) {
        printf("test_mapped_file: cannot make %s\n", cfg);
        exit(2);
    }
    expect("config.json a FIFO", tlm_model_load(hf, NULL, &m, &err), &err, TLM_ERR_IO, cfg,
           "a FIFO", NULL);
}

int main(void)
{
    alarm(60); /* a reader that blocks on the FIFO fails the test instead of hanging it */
    snprintf(tmpdir, sizeof tmpdir, "/tmp/tlm-mapped-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        printf("test_mapped_file: cannot make a temporary directory\n");
        return 2;
    }
    if (mkdir(in_tmp("dir"), 0700) != 0 || mkfifo(in_tmp("fifo"), 0600) != 0) {
        printf("test_mapped_file: cannot make a directory and a FIFO\n");
        return 2;
    }
    write_bytes(in_tmp("empty"), "", 0);
    write_bytes(in_tmp("short"), "0123456789", 10);
    write_bytes(in_tmp("ok"), "abcdef", 6);
    opener();
    readers();
    nftw(tmpdir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    return finish("mapped_file");
}
