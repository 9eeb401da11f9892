/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Image creation for qemu-img create and convert: raw images on local
 * files. Main thread; plain blocking system calls (nothing is open in the
 * block layer yet).
 */
#include "qemu/osdep.h"
#include "block/block.h"
#include "qemu/cutils.h"
#include "qapi/error.h"

/* What qemu-img writes at the start of a new image. */
#define CREATE_FIRST_BLOCK  4096

static bool write_zeroes_fd(int fd, int64_t offset, int64_t bytes,
                            const char *filename, Error **errp)
{
    g_autofree char *buf = g_malloc0(MIN(bytes, 1 << 20));

    while (bytes > 0) {
        ssize_t n = pwrite(fd, buf, MIN(bytes, 1 << 20), offset);

        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            error_setg_errno(errp, errno, "Could not write to '%s'",
                             filename);
            return false;
        }
        offset += n;
        bytes -= n;
    }
    return true;
}

bool bdrv_img_create(const char *filename, const char *fmt, int64_t size,
                     const char *prealloc, bool quiet, Error **errp)
{
    const char *colon = strchr(filename, ':');
    struct stat st;
    int fd;

    if (!fmt) {
        fmt = "raw";
    }
    if (!strcmp(fmt, "qcow2")) {
        error_setg(errp, "Image format 'qcow2' is not supported yet");
        return false;
    }
    if (strcmp(fmt, "raw") && strcmp(fmt, "file")) {
        error_setg(errp, "Unknown file format '%s'", fmt);
        return false;
    }
    if (prealloc && strcmp(prealloc, "off") && strcmp(prealloc, "falloc") &&
        strcmp(prealloc, "full")) {
        error_setg(errp, "Invalid preallocation mode '%s'", prealloc);
        return false;
    }
    if (size < 0 || size > BDRV_MAX_LENGTH) {
        error_setg(errp, "Image size must be less than 8 EiB!");
        return false;
    }
    if (colon && colon > filename &&
        strspn(filename, "abcdefghijklmnopqrstuvwxyz0123456789+.-") ==
        (size_t)(colon - filename)) {
        /* "proto:..." as the block layer reads it. */
        g_autofree char *proto = g_strndup(filename, colon - filename);

        if (strcmp(proto, "file")) {
            error_setg(errp, "Protocol driver '%s' does not support image "
                       "creation", proto);
            return false;
        }
        filename = colon + 1;
    }

    if (!quiet) {
        printf("Formatting '%s', fmt=%s size=%" PRId64 "%s%s\n", filename,
               fmt, size, prealloc ? " preallocation=" : "",
               prealloc ? prealloc : "");
        fflush(stdout);
    }

    fd = open(filename, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        error_setg_errno(errp, errno, "Could not create '%s'", filename);
        return false;
    }
    if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode)) {
        /* A block device keeps its size; nothing to format. */
        close(fd);
        return true;
    }
    if (ftruncate(fd, 0) < 0 || ftruncate(fd, size) < 0) {
        error_setg_errno(errp, errno, "Could not resize '%s'", filename);
        goto fail;
    }
    if (prealloc && !strcmp(prealloc, "falloc") && size > 0) {
        int ret = posix_fallocate(fd, 0, size);

        if (ret) {
            error_setg_errno(errp, ret, "Could not preallocate '%s'",
                             filename);
            goto fail;
        }
    }
    if (prealloc && !strcmp(prealloc, "full")) {
        if (!write_zeroes_fd(fd, 0, size, filename, errp)) {
            goto fail;
        }
    } else if (size > 0 &&
               !write_zeroes_fd(fd, 0, MIN(size, CREATE_FIRST_BLOCK),
                                filename, errp)) {
        goto fail;
    }
    if (close(fd) < 0) {
        error_setg_errno(errp, errno, "Could not close '%s'", filename);
        return false;
    }
    return true;

fail:
    close(fd);
    return false;
}
