/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Scatter/gather lists: helpers on plain struct iovec arrays, and
 * QEMUIOVector, a growable (or borrowed) iovec array that knows its size.
 *
 * A QEMUIOVector either owns its array (qemu_iovec_init(), grows with
 * qemu_iovec_add()) or borrows one (qemu_iovec_init_external(),
 * qemu_iovec_init_buf()); only owned vectors may grow. None of these
 * functions is thread-safe: a vector belongs to one request at a time.
 */
#ifndef QEMU_IOV_H
#define QEMU_IOV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

/**
 * iov_size:
 * @iov: array of @iov_cnt elements
 * @iov_cnt: number of elements
 *
 * Returns: the total number of bytes described by @iov.
 */
size_t iov_size(const struct iovec *iov, unsigned int iov_cnt);

/**
 * iov_from_buf:
 * @iov: destination array
 * @iov_cnt: number of elements of @iov
 * @offset: byte offset into the data described by @iov
 * @buf: source
 * @bytes: how many bytes to copy
 *
 * Copies @bytes of @buf into @iov starting at @offset, stopping early at
 * the end of @iov.
 *
 * Returns: the number of bytes copied.
 */
size_t iov_from_buf(const struct iovec *iov, unsigned int iov_cnt,
                    size_t offset, const void *buf, size_t bytes);

/**
 * iov_to_buf:
 * @iov: source array
 * @iov_cnt: number of elements of @iov
 * @offset: byte offset into the data described by @iov
 * @buf: destination
 * @bytes: how many bytes to copy
 *
 * Returns: the number of bytes copied (less than @bytes at the end of
 * @iov).
 */
size_t iov_to_buf(const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, void *buf, size_t bytes);

/**
 * iov_memset:
 * @iov: array to fill
 * @iov_cnt: number of elements of @iov
 * @offset: byte offset into the data described by @iov
 * @fillc: the byte value
 * @bytes: how many bytes to set
 *
 * Returns: the number of bytes set.
 */
size_t iov_memset(const struct iovec *iov, unsigned int iov_cnt,
                  size_t offset, int fillc, size_t bytes);

/**
 * buffer_is_zero:
 * @buf: memory to check
 * @len: its length
 *
 * Returns: true if all @len bytes are zero (true for @len 0).
 */
bool buffer_is_zero(const void *buf, size_t len);

typedef struct QEMUIOVector {
    struct iovec *iov;
    int niov;
    /* Capacity of @iov; -1 when the array is borrowed and cannot grow. */
    int nalloc;
    size_t size;
    /* Backing store of qemu_iovec_init_buf(). */
    struct iovec local_iov;
} QEMUIOVector;

/**
 * qemu_iovec_init:
 * @qiov: vector to initialise
 * @alloc_hint: expected number of elements (may be 0)
 *
 * Makes @qiov an empty vector that owns its array. Free it with
 * qemu_iovec_destroy().
 */
void qemu_iovec_init(QEMUIOVector *qiov, int alloc_hint);

/**
 * qemu_iovec_init_external:
 * @qiov: vector to initialise
 * @iov: (transfer none): array the vector borrows; must outlive @qiov
 * @niov: number of elements
 *
 * Makes @qiov describe @iov. The vector cannot grow;
 * qemu_iovec_destroy() is optional and frees nothing.
 */
void qemu_iovec_init_external(QEMUIOVector *qiov, struct iovec *iov,
                              int niov);

/**
 * qemu_iovec_init_buf:
 * @qiov: vector to initialise
 * @buf: (transfer none): the single buffer
 * @len: its length
 *
 * Makes @qiov a one-element vector over @buf, stored inside @qiov itself
 * (so @qiov must not be copied by value while in use).
 */
void qemu_iovec_init_buf(QEMUIOVector *qiov, void *buf, size_t len);

/**
 * qemu_iovec_init_slice:
 * @qiov: vector to initialise (owning its array)
 * @source: vector to take a slice of
 * @offset: start of the slice in @source, in bytes
 * @len: length of the slice; @offset + @len must not exceed @source's size
 *
 * Makes @qiov describe bytes [@offset, @offset + @len) of @source's
 * buffers (no data is copied). Free it with qemu_iovec_destroy().
 */
void qemu_iovec_init_slice(QEMUIOVector *qiov, QEMUIOVector *source,
                           size_t offset, size_t len);

/**
 * qemu_iovec_add:
 * @qiov: an owning vector
 * @base: buffer
 * @len: its length
 *
 * Appends one element. Aborts on a borrowed vector.
 */
void qemu_iovec_add(QEMUIOVector *qiov, void *base, size_t len);

/**
 * qemu_iovec_concat:
 * @dst: an owning vector
 * @src: vector to take elements from
 * @soffset: first byte of @src to take
 * @sbytes: how many bytes to take (clamped to the end of @src)
 *
 * Appends the elements that describe the given bytes of @src to @dst.
 */
void qemu_iovec_concat(QEMUIOVector *dst, QEMUIOVector *src,
                       size_t soffset, size_t sbytes);

/**
 * qemu_iovec_reset:
 * @qiov: an owning vector
 *
 * Removes every element, keeping the allocated array.
 */
void qemu_iovec_reset(QEMUIOVector *qiov);

/**
 * qemu_iovec_destroy:
 * @qiov: vector
 *
 * Frees the array of an owning vector (not the buffers it points to).
 * Harmless on a borrowed vector.
 */
void qemu_iovec_destroy(QEMUIOVector *qiov);

/**
 * qemu_iovec_to_buf:
 * @qiov: source vector
 * @offset: first byte to copy
 * @buf: destination
 * @bytes: how many bytes
 *
 * Returns: the number of bytes copied.
 */
size_t qemu_iovec_to_buf(QEMUIOVector *qiov, size_t offset, void *buf,
                         size_t bytes);

/**
 * qemu_iovec_from_buf:
 * @qiov: destination vector
 * @offset: first byte to write
 * @buf: source
 * @bytes: how many bytes
 *
 * Returns: the number of bytes copied.
 */
size_t qemu_iovec_from_buf(QEMUIOVector *qiov, size_t offset,
                           const void *buf, size_t bytes);

/**
 * qemu_iovec_memset:
 * @qiov: vector
 * @offset: first byte to set
 * @fillc: byte value
 * @bytes: how many bytes
 *
 * Returns: the number of bytes set.
 */
size_t qemu_iovec_memset(QEMUIOVector *qiov, size_t offset, int fillc,
                         size_t bytes);

/**
 * qemu_iovec_is_zero:
 * @qiov: vector
 * @offset: first byte to check
 * @bytes: how many bytes; the range must lie within @qiov
 *
 * Returns: true if the range holds only zero bytes.
 */
bool qemu_iovec_is_zero(QEMUIOVector *qiov, size_t offset, size_t bytes);

/**
 * qemu_iovec_is_aligned:
 * @qiov: vector
 * @align: a power of two
 *
 * Returns: true if every element's address and length are multiples of
 * @align (what O_DIRECT needs of memory).
 */
bool qemu_iovec_is_aligned(QEMUIOVector *qiov, size_t align);

#endif /* QEMU_IOV_H */
