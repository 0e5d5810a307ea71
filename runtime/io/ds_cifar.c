/* ds_cifar.c -- CIFAR-10 in two layouts:
 *   raw: an images file of N x 32 x 32 x 3 bytes (NHWC, RGB) without header
 *        and a labels file of N bytes (../shared/data/cifar10);
 *   bin: the official binary batches, N records of 1 label byte + 3072
 *        pixel bytes (1024 R, 1024 G, 1024 B, each plane row-major).
 * Sizes and labels are checked at open; pixels are read with pread() on
 * demand, which is safe from several threads. */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SIDE 32
#define PIXELS (SIDE * SIDE * 3) /* 3072 */
#define RECORD (1 + PIXELS)      /* 3073, one record of a binary batch */

typedef struct cifar {
    char path[1024];
    int fd;
    int bin;           /* 1: records of label + CHW pixels */
    int64_t count;
    int *labels;
} cifar;

static int open_sized(const char *path, int *fd, int64_t *size, nr_err *err)
{
    *fd = open(path, O_RDONLY);
    if (*fd < 0)
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(*fd);
        *fd = -1;
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "expected a regular file");
    }
    *size = st.st_size;
    return 0;
}

/* pread all n bytes at off, or fail naming the file. */
static int read_at(int fd, const char *path, void *buf, size_t n, int64_t off, nr_err *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return nr_err_set(err, NR_EIO, path, 0, 0, NULL,
                              "read of %zu bytes at offset %lld failed: %s", n, (long long)off,
                              r < 0 ? strerror(errno) : "file shrank since it was opened");
        got += (size_t)r;
    }
    return 0;
}

static int cifar_read(const void *impl, int64_t i, nr_ds_image *img, nr_err *err)
{
    const cifar *d = impl;
    uint8_t rec[RECORD];
    img->h = SIDE, img->w = SIDE, img->c = 3;
    img->px = malloc(PIXELS);
    if (!img->px)
        return nr_err_set(err, NR_ENOMEM, d->path, 0, 0, NULL, "out of memory");
    if (!d->bin)
        return read_at(d->fd, d->path, img->px, PIXELS, i * PIXELS, err);
    int rc = read_at(d->fd, d->path, rec, RECORD, i * RECORD, err);
    if (rc)
        return rc;
    for (int c = 0; c < 3; c++) /* CHW -> HWC */
        for (int p = 0; p < SIDE * SIDE; p++)
            img->px[p * 3 + c] = rec[1 + c * SIDE * SIDE + p];
    return 0;
}

static const char *cifar_name(const void *impl, int64_t i)
{
    (void)i;
    return ((const cifar *)impl)->path;
}

static void cifar_close(void *impl)
{
    cifar *d = impl;
    if (!d)
        return;
    if (d->fd >= 0)
        close(d->fd);
    free(d->labels);
    free(d);
}

static int check_label(int v, int num_classes, const char *path, int64_t i, nr_err *err)
{
    if (v < num_classes)
        return 0;
    return nr_err_set(err, NR_ERANGE, path, 0, 0, NULL, "label %d of sample %lld: expected 0..%d",
                      v, (long long)i, num_classes - 1);
}

static void publish(cifar *d, nr_ds_reader *r)
{
    r->impl = d;
    r->count = d->count;
    r->h = SIDE, r->w = SIDE, r->c = 3;
    r->labels = d->labels;
    r->read = cifar_read;
    r->name = cifar_name;
    r->close = cifar_close;
}

static cifar *cifar_new(const char *path)
{
    cifar *d = calloc(1, sizeof *d);
    if (d) {
        d->fd = -1;
        snprintf(d->path, sizeof d->path, "%s", path);
    }
    return d;
}

int nr_ds_cifar_raw_open(const char *images, const char *labels, int num_classes,
                         nr_ds_reader *r, nr_err *err)
{
    memset(r, 0, sizeof *r);
    cifar *d = cifar_new(images);
    uint8_t *lab = NULL;
    int lfd = -1, rc;
    int64_t isize, lsize;
    if (!d)
        return nr_err_set(err, NR_ENOMEM, images, 0, 0, NULL, "out of memory");
    if ((rc = open_sized(images, &d->fd, &isize, err)))
        goto fail;
    if (isize == 0 || isize % PIXELS) {
        rc = nr_err_set(err, NR_ESHAPE, images, 0, 0, NULL,
                        "size %lld bytes: expected a positive multiple of 3072 (N x 32 x 32 x 3)",
                        (long long)isize);
        goto fail;
    }
    d->count = isize / PIXELS;
    if ((rc = open_sized(labels, &lfd, &lsize, err)))
        goto fail;
    if (lsize != d->count) {
        rc = nr_err_set(err, NR_ESHAPE, labels, 0, 0, NULL,
                        "%lld labels: expected %lld, the image count of %s", (long long)lsize,
                        (long long)d->count, images);
        goto fail;
    }
    lab = malloc((size_t)d->count);
    d->labels = malloc(sizeof(int) * (size_t)d->count);
    if (!lab || !d->labels) {
        rc = nr_err_set(err, NR_ENOMEM, labels, 0, 0, NULL, "out of memory");
        goto fail;
    }
    if ((rc = read_at(lfd, labels, lab, (size_t)d->count, 0, err)))
        goto fail;
    for (int64_t i = 0; i < d->count; i++) {
        if ((rc = check_label(lab[i], num_classes, labels, i, err)))
            goto fail;
        d->labels[i] = lab[i];
    }
    close(lfd);
    free(lab);
    publish(d, r);
    return 0;
fail:
    if (lfd >= 0)
        close(lfd);
    free(lab);
    cifar_close(d);
    return rc;
}

int nr_ds_cifar_bin_open(const char *path, int num_classes, nr_ds_reader *r, nr_err *err)
{
    memset(r, 0, sizeof *r);
    cifar *d = cifar_new(path);
    int rc;
    int64_t size;
    if (!d)
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    d->bin = 1;
    if ((rc = open_sized(path, &d->fd, &size, err)))
        goto fail;
    if (size == 0 || size % RECORD) {
        rc = nr_err_set(err, NR_ESHAPE, path, 0, 0, NULL,
                        "size %lld bytes: expected a positive multiple of 3073 (records of 1 "
                        "label byte + 3072 pixel bytes)",
                        (long long)size);
        goto fail;
    }
    d->count = size / RECORD;
    d->labels = malloc(sizeof(int) * (size_t)d->count);
    if (!d->labels) {
        rc = nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    /* Collect the labels in one sequential pass over the file. */
    enum { CHUNK = 256 };
    uint8_t *buf = malloc((size_t)CHUNK * RECORD);
    if (!buf) {
        rc = nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < d->count && !rc; i += CHUNK) {
        int64_t n = d->count - i < CHUNK ? d->count - i : CHUNK;
        rc = read_at(d->fd, path, buf, (size_t)n * RECORD, i * RECORD, err);
        for (int64_t j = 0; j < n && !rc; j++) {
            rc = check_label(buf[j * RECORD], num_classes, path, i + j, err);
            d->labels[i + j] = buf[j * RECORD];
        }
    }
    free(buf);
    if (rc)
        goto fail;
    publish(d, r);
    return 0;
fail:
    cifar_close(d);
    return rc;
}
