/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Opening an image for qemu-io: its command line and 'open' options made
 * into block layer flags and options.
 */
#include "qemu/osdep.h"
#include "qemu-io.h"
#include "qemu/keyval.h"
#include "qemu/error-report.h"
#include "qapi/error.h"
#include "block/qcow2-img.h"

/* Copies @src's parameters into @dst, which is fresh. */
static bool copy_options(KeyVal *dst, const KeyVal *src, Error **errp)
{
    for (size_t i = 0; src && i < keyval_count(src); i++) {
        if (!strcmp(keyval_nth_key(src, i), "driver")) {
            continue;
        }
        if (!keyval_add(dst, keyval_nth_key(src, i),
                        keyval_nth_value(src, i), errp)) {
            return false;
        }
    }
    return true;
}

BlockBackend *qemuio_open_image(const char *name,
                                const QemuIOOpenOptions *o, Error **errp)
{
    /* Like QEMU's qemu-io, discard requests reach the image by default. */
    int flags = (o->read_only ? 0 : BDRV_O_RDWR) | BDRV_O_UNMAP;
    bool writethrough = false;
    BlockBackend *blk;

    if (o->cache && bdrv_parse_cache_mode(o->cache, &flags,
                                          &writethrough) < 0) {
        error_setg(errp, "Invalid cache option: %s", o->cache);
        return NULL;
    }
    if (o->discard && bdrv_parse_discard_flags(o->discard, &flags) < 0) {
        error_setg(errp, "Invalid discard option: %s", o->discard);
        return NULL;
    }
    if (o->aio) {
        if (!strcmp(o->aio, "io_uring")) {
            flags |= BDRV_O_IO_URING;
        } else if (strcmp(o->aio, "threads")) {
            error_setg(errp, "Invalid aio option: %s%s", o->aio,
                       !strcmp(o->aio, "native") ?
                       " (use io_uring or threads)" : "");
            return NULL;
        }
    }
    if (o->force_share) {
        flags |= BDRV_O_FORCE_SHARE;
    }

    if (o->image_opts) {
        g_autoptr(KeyVal) kv = keyval_parse(name, NULL, errp);
        BlockDriverState *bs;

        if (!kv) {
            return NULL;
        }
        bdrv_options_from_flags(kv, flags,
                                (o->read_only ? BDRV_FILL_READ_ONLY : 0) |
                                (o->cache ? BDRV_FILL_CACHE : 0) |
                                BDRV_FILL_DISCARD |
                                (o->force_share ? BDRV_FILL_FORCE_SHARE : 0));
        bs = bdrv_open_blockdev(kv, errp);
        if (!bs) {
            error_prepend(errp, "can't open: ");
            return NULL;
        }
        blk = blk_new_with_bs(bs, !o->read_only &&
                              !bdrv_is_read_only(bs), errp);
        bdrv_unref(bs);
    } else {
        g_autoptr(KeyVal) kv = keyval_new();

        if (!copy_options(kv, o->options, errp)) {
            return NULL;
        }
        if (!o->format && !o->read_only && !qcow2_probe_file(name)) {
            error_printf("WARNING: Image format was not specified for "
                         "'%s' and probing guessed raw.\n", name);
            error_printf("         Automatically detecting the format is "
                         "dangerous for raw images, write operations on "
                         "block 0 will be restricted.\n"
                         "         Specify the 'raw' format explicitly to "
                         "remove the restrictions.\n");
        }
        blk = blk_new_open(name, o->format, kv, flags, errp);
        if (!blk) {
            error_prepend(errp, "can't open device %s: ", name);
        }
    }
    if (!blk) {
        return NULL;
    }
    blk_set_enable_write_cache(blk, !writethrough);
    return blk;
}
