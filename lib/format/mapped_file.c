/* mapped_file.c - open, check and map a file for the format readers (mapped_file.h). */
#include "mapped_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a directory"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISSOCK(m) ? "a socket"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
                         : "not a regular file";
}

tlm_status tlm_map_file(const char *path, uint64_t min_size, const char *what, tlm_mapped_file *out,
                        tlm_error *err)
{
    if (!out) return tlm_fail(err, TLM_ERR_ARG, "tlm_map_file: out is NULL");
    *out = (tlm_mapped_file){0};
    if (!path) return tlm_fail(err, TLM_ERR_ARG, "tlm_map_file: path is NULL");
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer; it changes
     * nothing for a regular file. O_CLOEXEC: a child the caller forks must not inherit it. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) return tlm_fail(err, TLM_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    /* checked on the open descriptor, not the name, so the file cannot be swapped between */
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return tlm_fail(err, TLM_ERR_IO, "%s: %s, not a regular file", path, kind_of(sb.st_mode));
    }
    if (min_size == 0) min_size = 1;
    uint64_t size = sb.st_size > 0 ? (uint64_t)sb.st_size : 0;
    if (size < min_size) {
        close(fd);
        if (size == 0) return tlm_fail(err, TLM_ERR_FORMAT, "%s: file is empty", path);
        return tlm_fail(err, TLM_ERR_FORMAT,
                        "%s: file is %" PRIu64 " bytes, smaller than %s (%" PRIu64 ")", path, size,
                        what ? what : "the smallest valid file", min_size);
    }
    if (size > SIZE_MAX) {
        close(fd);
        return tlm_fail(err, TLM_ERR_IO, "%s: %" PRIu64 " bytes is too large to map", path, size);
    }
    void *map = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd); /* the mapping keeps the file open */
    if (map == MAP_FAILED)
        return tlm_fail(err, TLM_ERR_IO, "%s: cannot map %" PRIu64 " bytes: %s", path, size,
                        strerror(e));
    out->data = map;
    out->size = size;
    return TLM_OK;
}

void tlm_unmap_file(tlm_mapped_file *f)
{
    if (!f || !f->data) return;
    munmap(f->data, (size_t)f->size);
    *f = (tlm_mapped_file){0};
}
