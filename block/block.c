/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Block graph: driver registry, opening nodes from option strings,
 * references, children, node names and AioContext moves.
 *
 * Everything here is the control path and runs in the main thread
 * (outside coroutines), which alone changes the graph; the graph changes
 * while the nodes involved are drained, so that request coroutines in
 * iothreads may walk it without locks (see block/io.c).
 */
#include "qemu/osdep.h"
#include "block/block_int.h"
#include "block/qcow2.h"
#include "block/qcow2-img.h"
#include "qemu/cutils.h"
#include "qemu/id.h"
#include "qemu/main-loop.h"
#include "qapi/error.h"

/* Main thread: every open node, for names and drain_all. */
static QLIST_HEAD(, BlockDriverState) all_bdrv_states =
    QLIST_HEAD_INITIALIZER(all_bdrv_states);
static unsigned int auto_node_counter;
static GPtrArray *extra_drivers;

static const BlockDriver *const builtin_drivers[] = {
    &bdrv_file,
    &bdrv_null_co,
    &bdrv_raw,
    &bdrv_nbd,
    &bdrv_qcow2,
};

/* Does @filename start with "@prefix:"? */
static bool bdrv_has_prefix(const char *filename, const char *prefix)
{
    const char *rest;

    return prefix && strstart(filename, prefix, &rest) && rest[0] == ':';
}

/* Driver registry */

void bdrv_register(const BlockDriver *drv)
{
    if (!extra_drivers) {
        extra_drivers = g_ptr_array_new();
    }
    g_ptr_array_add(extra_drivers, (gpointer)drv);
}

const BlockDriver *bdrv_find_driver(const char *format_name)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(builtin_drivers); i++) {
        if (!strcmp(builtin_drivers[i]->format_name, format_name)) {
            return builtin_drivers[i];
        }
    }
    for (i = 0; extra_drivers && i < extra_drivers->len; i++) {
        const BlockDriver *drv = g_ptr_array_index(extra_drivers, i);

        if (!strcmp(drv->format_name, format_name)) {
            return drv;
        }
    }
    return NULL;
}

/* The protocol for @filename: one whose "name:" prefix it has, or file. */
static const BlockDriver *bdrv_find_protocol(const char *filename)
{
    size_t i;
    size_t n = extra_drivers ? extra_drivers->len : 0;

    for (i = 0; i < ARRAY_SIZE(builtin_drivers) + n; i++) {
        const BlockDriver *drv = i < ARRAY_SIZE(builtin_drivers) ?
            builtin_drivers[i] :
            g_ptr_array_index(extra_drivers, i - ARRAY_SIZE(builtin_drivers));
        if (bdrv_has_prefix(filename, drv->protocol_name)) {
            return drv;
        }
        for (size_t j = 0; drv->protocol_aliases &&
             drv->protocol_aliases[j]; j++) {
            if (bdrv_has_prefix(filename, drv->protocol_aliases[j])) {
                return drv;
            }
        }
    }
    return &bdrv_file;
}

/* Option helpers */

int bdrv_parse_cache_mode(const char *mode, int *flags, bool *writethrough)
{
    int f = *flags & ~BDRV_O_CACHE_MASK;
    bool wt;

    if (!strcmp(mode, "none") || !strcmp(mode, "off")) {
        f |= BDRV_O_NOCACHE;
        wt = false;
    } else if (!strcmp(mode, "directsync")) {
        f |= BDRV_O_NOCACHE;
        wt = true;
    } else if (!strcmp(mode, "writeback")) {
        wt = false;
    } else if (!strcmp(mode, "unsafe")) {
        f |= BDRV_O_NO_FLUSH;
        wt = false;
    } else if (!strcmp(mode, "writethrough")) {
        wt = true;
    } else {
        return -1;
    }
    *flags = f;
    *writethrough = wt;
    return 0;
}

int bdrv_parse_discard_flags(const char *mode, int *flags)
{
    if (!strcmp(mode, "off") || !strcmp(mode, "ignore")) {
        *flags &= ~BDRV_O_UNMAP;
    } else if (!strcmp(mode, "on") || !strcmp(mode, "unmap")) {
        *flags |= BDRV_O_UNMAP;
    } else {
        return -1;
    }
    return 0;
}

/* Accessors */

const char *bdrv_get_node_name(const BlockDriverState *bs)
{
    return bs->node_name;
}

const char *bdrv_get_format_name(const BlockDriverState *bs)
{
    return bs->drv ? bs->drv->format_name : NULL;
}

const char *bdrv_get_filename(const BlockDriverState *bs)
{
    return bs->filename ? bs->filename : "";
}

int bdrv_get_flags(const BlockDriverState *bs)
{
    return bs->open_flags;
}

bool bdrv_is_read_only(const BlockDriverState *bs)
{
    return bs->read_only;
}

BlockDriverState *bdrv_get_file(const BlockDriverState *bs)
{
    return bs->file ? bs->file->bs : NULL;
}

AioContext *bdrv_get_aio_context(BlockDriverState *bs)
{
    return qatomic_read(&bs->aio_context);
}

BlockDriverState *bdrv_find_node(const char *node_name)
{
    BlockDriverState *bs;

    QLIST_FOREACH(bs, &all_bdrv_states, all_list) {
        if (!strcmp(bs->node_name, node_name)) {
            return bs;
        }
    }
    return NULL;
}

/* Edges */

static void child_of_bds_drained_begin(BdrvChild *child)
{
    bdrv_drained_begin_no_poll(child->opaque);
}

static void child_of_bds_drained_end(BdrvChild *child)
{
    bdrv_drained_end_no_poll(child->opaque);
}

static bool child_of_bds_drained_poll(BdrvChild *child)
{
    return bdrv_drain_poll(child->opaque);
}

static void child_of_bds_resize(BdrvChild *child)
{
    BlockDriverState *parent = child->opaque;

    bdrv_refresh_total_bytes(parent);
    bdrv_parents_resized(parent);
}

static const BdrvChildClass child_of_bds = {
    .parent_is_bds = true,
    .drained_begin = child_of_bds_drained_begin,
    .drained_end = child_of_bds_drained_end,
    .drained_poll = child_of_bds_drained_poll,
    .resize = child_of_bds_resize,
};

/*
 * Links a new edge into @bs->parents. The new parent inherits the drained
 * sections @bs is in, so that its counters stay balanced.
 */
static BdrvChild *bdrv_attach_child_common(BlockDriverState *bs,
                                           const char *name,
                                           const BdrvChildClass *klass,
                                           void *opaque)
{
    BdrvChild *child = g_new0(BdrvChild, 1);
    int i, n;

    child->bs = bs;
    child->name = g_strdup(name);
    child->klass = klass;
    child->opaque = opaque;

    bdrv_drained_begin(bs);
    QLIST_INSERT_HEAD(&bs->parents, child, next_parent);
    n = qatomic_read(&bs->quiesce_counter);
    for (i = 0; i < n && klass->drained_begin; i++) {
        klass->drained_begin(child);
    }
    bdrv_drained_end(bs);
    return child;
}

/* Unlinks @child from its node; the node's reference is the caller's. */
static void bdrv_detach_child_common(BdrvChild *child)
{
    BlockDriverState *bs = child->bs;
    int i, n;

    bdrv_drained_begin(bs);
    QLIST_REMOVE(child, next_parent);
    n = qatomic_read(&bs->quiesce_counter);
    for (i = 0; i < n && child->klass->drained_end; i++) {
        child->klass->drained_end(child);
    }
    bdrv_drained_end(bs);
}

BdrvChild *bdrv_root_attach_child(BlockDriverState *bs, const char *name,
                                  const BdrvChildClass *klass, void *opaque)
{
    bdrv_ref(bs);
    return bdrv_attach_child_common(bs, name, klass, opaque);
}

void bdrv_root_unref_child(BdrvChild *child)
{
    BlockDriverState *bs = child->bs;

    bdrv_detach_child_common(child);
    g_free(child->name);
    g_free(child);
    bdrv_unref(bs);
}

/* Drops every child of @parent (close, or a failed open). */
static void bdrv_unref_children(BlockDriverState *parent)
{
    BdrvChild *child, *next;

    QLIST_FOREACH_SAFE(child, &parent->children, next, next) {
        QLIST_REMOVE(child, next);
        bdrv_root_unref_child(child);
    }
    parent->file = NULL;
}

/* Opening */

static BlockDriverState *bdrv_open_node(const KeyVal *opts, int flags,
                                        Error **errp);

BdrvChild *bdrv_open_child(BlockDriverState *parent, const KeyVal *options,
                           const char *name, int flags, Error **errp)
{
    const char *ref = keyval_get(options, name);
    BlockDriverState *bs;
    BdrvChild *child;

    if (ref) {
        bs = bdrv_find_node(ref);
        if (!bs) {
            error_setg(errp, "Cannot find node-name '%s'", ref);
            return NULL;
        }
        bdrv_ref(bs);
    } else {
        g_autofree char *prefix = g_strdup_printf("%s.", name);
        g_autoptr(KeyVal) sub = keyval_subset(options, prefix);

        if (keyval_count(sub) == 0) {
            error_setg(errp, "A block device must be specified for \"%s\"",
                       name);
            return NULL;
        }
        bs = bdrv_open_node(sub, flags, errp);
        if (!bs) {
            return NULL;
        }
    }
    if ((flags & BDRV_O_RDWR) && bs->read_only) {
        error_setg(errp, "node '%s': its %s child '%s' is read-only",
                   parent->node_name, name, bs->node_name);
        bdrv_unref(bs);
        return NULL;
    }
    /* A new parent follows an existing child into its context. */
    qatomic_set(&parent->aio_context, bdrv_get_aio_context(bs));

    child = bdrv_attach_child_common(bs, name, &child_of_bds, parent);
    QLIST_INSERT_HEAD(&parent->children, child, next);
    if (!strcmp(name, "file")) {
        parent->file = child;
    }
    return child;
}

static bool bdrv_set_node_name(BlockDriverState *bs, const char *node_name,
                               Error **errp)
{
    if (!node_name) {
        bs->node_name = g_strdup_printf("#block%03u", auto_node_counter++);
        bs->auto_named = true;
        return true;
    }
    if (!id_wellformed(node_name)) {
        error_setg(errp, "Invalid node-name: '%s'", node_name);
        return false;
    }
    if (bdrv_find_node(node_name)) {
        error_setg(errp, "Duplicate nodes with node-name='%s'", node_name);
        return false;
    }
    bs->node_name = g_strdup(node_name);
    return true;
}

/* Default limits, then (once the driver is open) the driver's. */
static void bdrv_refresh_limits(BlockDriverState *bs, bool opened,
                                Error **errp)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);

    memset(&bs->bl, 0, sizeof(bs->bl));
    bs->bl.request_alignment = 1;
    bs->bl.min_mem_alignment = 1;
    bs->bl.opt_mem_alignment = page;
    if (opened && bs->drv->bdrv_refresh_limits) {
        bs->drv->bdrv_refresh_limits(bs, errp);
    }
}

static void bdrv_free(BlockDriverState *bs)
{
    qemu_mutex_destroy(&bs->reqs_lock);
    g_free(bs->opaque);
    g_free(bs->node_name);
    g_free(bs->filename);
    g_free(bs);
}

/*
 * Opens one node (and, through its driver, its children) from @opts,
 * whose common options override @flags. Unused options are left for the
 * caller to reject.
 */
static BlockDriverState *bdrv_open_node(const KeyVal *opts, int flags,
                                        Error **errp)
{
    ERRP_GUARD();
    const char *driver = keyval_get(opts, "driver");
    const char *discard = keyval_get(opts, BDRV_OPT_DISCARD);
    const BlockDriver *drv;
    BlockDriverState *bs;
    bool ro, direct, no_flush, force_share;
    int ret;

    if (!driver) {
        error_setg(errp, "Parameter 'driver' is missing");
        return NULL;
    }
    drv = bdrv_find_driver(driver);
    if (!drv) {
        error_setg(errp, "Unknown driver '%s'", driver);
        return NULL;
    }
    if (!keyval_get_bool(opts, BDRV_OPT_READ_ONLY, !(flags & BDRV_O_RDWR),
                         &ro, errp) ||
        !keyval_get_bool(opts, BDRV_OPT_CACHE_DIRECT,
                         flags & BDRV_O_NOCACHE, &direct, errp) ||
        !keyval_get_bool(opts, BDRV_OPT_CACHE_NO_FLUSH,
                         flags & BDRV_O_NO_FLUSH, &no_flush, errp) ||
        !keyval_get_bool(opts, BDRV_OPT_FORCE_SHARE,
                         flags & BDRV_O_FORCE_SHARE, &force_share, errp)) {
        return NULL;
    }
    flags &= ~(BDRV_O_RDWR | BDRV_O_CACHE_MASK | BDRV_O_FORCE_SHARE);
    flags |= (ro ? 0 : BDRV_O_RDWR) | (direct ? BDRV_O_NOCACHE : 0) |
             (no_flush ? BDRV_O_NO_FLUSH : 0) |
             (force_share ? BDRV_O_FORCE_SHARE : 0);
    if (discard && bdrv_parse_discard_flags(discard, &flags) < 0) {
        error_setg(errp, "Invalid discard option '%s' (use ignore or unmap)",
                   discard);
        return NULL;
    }
    if (force_share && !ro) {
        error_setg(errp, "force-share=on can only be used with read-only "
                   "images");
        return NULL;
    }

    bs = g_new0(BlockDriverState, 1);
    bs->drv = drv;
    bs->opaque = g_malloc0(MAX(drv->instance_size, 1));
    bs->refcnt = 1;
    bs->open_flags = flags;
    bs->read_only = ro;
    bs->force_share = force_share;
    bs->aio_context = qemu_get_aio_context();
    qemu_mutex_init(&bs->reqs_lock);
    QLIST_INIT(&bs->children);
    QLIST_INIT(&bs->parents);
    QLIST_INIT(&bs->tracked_requests);
    if (!bdrv_set_node_name(bs, keyval_get(opts, BDRV_OPT_NODE_NAME),
                            errp)) {
        bdrv_free(bs);
        return NULL;
    }

    bdrv_refresh_limits(bs, false, &error_abort);
    ret = drv->bdrv_open(bs, opts, flags, errp);
    if (ret < 0) {
        bdrv_unref_children(bs);
        bdrv_free(bs);
        return NULL;
    }
    bdrv_refresh_limits(bs, true, errp);
    if (!*errp) {
        ret = bdrv_refresh_total_bytes(bs);
        if (ret < 0) {
            error_setg_errno(errp, -ret, "node '%s': cannot get its length",
                             bs->node_name);
        }
    }
    if (*errp) {
        if (drv->bdrv_close) {
            drv->bdrv_close(bs);
        }
        bdrv_unref_children(bs);
        bdrv_free(bs);
        return NULL;
    }
    QLIST_INSERT_HEAD(&all_bdrv_states, bs, all_list);
    return bs;
}

static BlockDriverState *bdrv_open_checked(const KeyVal *opts, int flags,
                                           Error **errp)
{
    BlockDriverState *bs = bdrv_open_node(opts, flags, errp);

    if (bs && !keyval_check_unused(opts, NULL, errp)) {
        bdrv_unref(bs);
        return NULL;
    }
    return bs;
}

BlockDriverState *bdrv_open_blockdev(const KeyVal *opts, Error **errp)
{
    return bdrv_open_checked(opts, BDRV_O_RDWR, errp);
}

/* Sets @key to @value in @opts unless @opts has it. */
static void keyval_default(KeyVal *opts, const char *key, const char *value)
{
    if (!keyval_has(opts, key)) {
        keyval_add(opts, key, value, &error_abort);
    }
}

void bdrv_options_from_flags(KeyVal *opts, int flags, unsigned int fill)
{
    if (fill & BDRV_FILL_READ_ONLY) {
        keyval_default(opts, BDRV_OPT_READ_ONLY, "on");
    }
    if (fill & BDRV_FILL_CACHE) {
        keyval_default(opts, BDRV_OPT_CACHE_DIRECT,
                       flags & BDRV_O_NOCACHE ? "on" : "off");
        keyval_default(opts, BDRV_OPT_CACHE_NO_FLUSH,
                       flags & BDRV_O_NO_FLUSH ? "on" : "off");
    }
    if (fill & BDRV_FILL_DISCARD) {
        keyval_default(opts, BDRV_OPT_DISCARD,
                       flags & BDRV_O_UNMAP ? "unmap" : "ignore");
    }
    if (fill & BDRV_FILL_FORCE_SHARE) {
        keyval_default(opts, BDRV_OPT_FORCE_SHARE, "on");
    }
}

/* Copies @src's parameters into @dst, except those @dst has already. */
static bool keyval_merge(KeyVal *dst, const KeyVal *src, Error **errp)
{
    size_t i;

    for (i = 0; src && i < keyval_count(src); i++) {
        const char *key = keyval_nth_key(src, i);

        if (!keyval_add(dst, key, keyval_nth_value(src, i), errp)) {
            return false;
        }
    }
    return true;
}

BlockDriverState *bdrv_open(const char *filename, const char *format,
                            const KeyVal *options, int flags, Error **errp)
{
    g_autoptr(KeyVal) kv = keyval_new();
    const BlockDriver *drv, *proto;
    const char *prefix = "";

    if (!format) {
        /* Probe local files for qcow2's magic; anything else is raw. */
        bool local = filename && !(options && keyval_has(options,
                                                          "file.driver")) &&
                     bdrv_find_protocol(filename) == &bdrv_file;

        format = local && qcow2_probe_file(filename) ? "qcow2" : "raw";
    }
    drv = bdrv_find_driver(format);
    if (!drv) {
        error_setg(errp, "Unknown driver '%s'", format);
        return NULL;
    }
    if (!keyval_merge(kv, options, errp) ||
        !keyval_add(kv, "driver", format, errp)) {
        return NULL;
    }
    if (drv->is_format) {
        if (keyval_has(kv, "file")) {
            /* "file=NODE": the child exists already. */
            return bdrv_open_checked(kv, flags, errp);
        }
        prefix = "file.";
        proto = keyval_has(kv, "file.driver") ?
                bdrv_find_driver(keyval_get(kv, "file.driver")) :
                bdrv_find_protocol(filename ? filename : "");
        if (!keyval_has(kv, "file.driver") &&
            !keyval_add(kv, "file.driver", proto->format_name, errp)) {
            return NULL;
        }
    } else {
        proto = drv;
    }
    if (proto && proto->bdrv_parse_filename && filename) {
        g_autoptr(KeyVal) fopts = keyval_new();
        size_t i;

        if (!proto->bdrv_parse_filename(filename, fopts, errp)) {
            return NULL;
        }
        for (i = 0; i < keyval_count(fopts); i++) {
            g_autofree char *key = g_strconcat(prefix,
                                               keyval_nth_key(fopts, i),
                                               NULL);

            if (!keyval_has(kv, key) &&
                !keyval_add(kv, key, keyval_nth_value(fopts, i), errp)) {
                return NULL;
            }
        }
    }
    return bdrv_open_checked(kv, flags, errp);
}

/* References */

void bdrv_ref(BlockDriverState *bs)
{
    bs->refcnt++;
}

static void bdrv_close(BlockDriverState *bs)
{
    assert(QLIST_EMPTY(&bs->parents));
    /* Requests of our own (none should be left) must finish first. */
    bdrv_drained_begin(bs);
    if (bs->drv && bs->drv->bdrv_close) {
        bs->drv->bdrv_close(bs);
    }
    bdrv_drained_end(bs);
    bdrv_unref_children(bs);
    QLIST_REMOVE(bs, all_list);
    bs->drv = NULL;
}

void bdrv_unref(BlockDriverState *bs)
{
    if (!bs) {
        return;
    }
    assert(bs->refcnt > 0);
    if (--bs->refcnt == 0) {
        bdrv_close(bs);
        bdrv_free(bs);
    }
}

/* Drain of every node */

void bdrv_drain_all_begin(void)
{
    BlockDriverState *bs;

    QLIST_FOREACH(bs, &all_bdrv_states, all_list) {
        bdrv_drained_begin_no_poll(bs);
    }
    smp_mb();
    QLIST_FOREACH(bs, &all_bdrv_states, all_list) {
        AIO_WAIT_WHILE(bdrv_get_aio_context(bs), bdrv_drain_poll(bs));
    }
}

void bdrv_drain_all_end(void)
{
    BlockDriverState *bs;

    QLIST_FOREACH(bs, &all_bdrv_states, all_list) {
        bdrv_drained_end_no_poll(bs);
    }
}

/* AioContext moves */

/* Adds @bs and everything connected to it to @nodes, and root edges. */
static void bdrv_collect_connected(BlockDriverState *bs, GPtrArray *nodes,
                                   GPtrArray *roots)
{
    BdrvChild *c;

    if (g_ptr_array_find(nodes, bs, NULL)) {
        return;
    }
    g_ptr_array_add(nodes, bs);
    QLIST_FOREACH(c, &bs->children, next) {
        bdrv_collect_connected(c->bs, nodes, roots);
    }
    QLIST_FOREACH(c, &bs->parents, next_parent) {
        if (c->klass->parent_is_bds) {
            bdrv_collect_connected(c->opaque, nodes, roots);
        } else {
            g_ptr_array_add(roots, c);
        }
    }
}

int bdrv_change_aio_context_ignore(BlockDriverState *bs, AioContext *new_ctx,
                                   BdrvChild *ignore, Error **errp)
{
    g_autoptr(GPtrArray) nodes = g_ptr_array_new();
    g_autoptr(GPtrArray) roots = g_ptr_array_new();
    guint i;

    assert(qemu_in_main_thread() && !qemu_in_coroutine());
    if (bdrv_get_aio_context(bs) == new_ctx) {
        return 0;
    }
    bdrv_collect_connected(bs, nodes, roots);
    for (i = 0; i < roots->len; i++) {
        BdrvChild *c = g_ptr_array_index(roots, i);

        if (c != ignore && c->klass->can_change_aio_context &&
            !c->klass->can_change_aio_context(c, errp)) {
            error_prepend(errp, "node '%s': ", bs->node_name);
            return -EPERM;
        }
    }

    for (i = 0; i < nodes->len; i++) {
        bdrv_drained_begin(g_ptr_array_index(nodes, i));
    }
    for (i = 0; i < roots->len; i++) {
        BdrvChild *c = g_ptr_array_index(roots, i);

        if (c->klass->detach_aio_context) {
            c->klass->detach_aio_context(c);
        }
    }
    for (i = 0; i < nodes->len; i++) {
        BlockDriverState *n = g_ptr_array_index(nodes, i);

        if (n->drv && n->drv->bdrv_detach_aio_context) {
            n->drv->bdrv_detach_aio_context(n);
        }
    }
    for (i = 0; i < nodes->len; i++) {
        BlockDriverState *n = g_ptr_array_index(nodes, i);

        qatomic_set(&n->aio_context, new_ctx);
        if (n->drv && n->drv->bdrv_attach_aio_context) {
            n->drv->bdrv_attach_aio_context(n, new_ctx);
        }
    }
    for (i = 0; i < roots->len; i++) {
        BdrvChild *c = g_ptr_array_index(roots, i);

        if (c->klass->attach_aio_context) {
            c->klass->attach_aio_context(c, new_ctx);
        }
    }
    for (i = 0; i < nodes->len; i++) {
        bdrv_drained_end(g_ptr_array_index(nodes, i));
    }
    return 0;
}

int bdrv_try_change_aio_context(BlockDriverState *bs, AioContext *new_ctx,
                                Error **errp)
{
    return bdrv_change_aio_context_ignore(bs, new_ctx, NULL, errp);
}
