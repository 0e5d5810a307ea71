/* ds_idx.c -- IDX files (MNIST, Fashion-MNIST): a big-endian header
 * (0, 0, type 0x08 = ubyte, ndim; then ndim 32-bit sizes) followed by the
 * data.  Read through zlib's gz* functions, which accept gzip and plain files
 * alike.  Both files are small (MNIST test: 7.8 MB), so they are read whole
 * at open and checked: magic, dimensions, counts that agree, no missing and
 * no extra bytes, labels in range. */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct idx {
    char images[1024];
    int64_t count;
    int h, w;
    uint8_t *px;
    int *labels;
} idx;

/* Read exactly n bytes; returns bytes read (< n at end of data) or -1 on a
 * stream error (corrupt or truncated gzip), with the zlib message in *why. */
static int64_t gz_read_all(gzFile f, void *buf, int64_t n, const char **why)
{
    int64_t got = 0;
    while (got < n) {
        int64_t want = n - got;
        unsigned chunk = want > (1 << 30) ? 1u << 30 : (unsigned)want;
        int r = gzread(f, (char *)buf + got, chunk);
        if (r <= 0) /* end of data, or an error gzerror reports below */
            break;
        got += r;
    }
    /* A gzip stream cut short reports itself only after the last read, as
     * Z_BUF_ERROR; that is a truncation, which the caller reports by size. */
    int code;
    const char *m = gzerror(f, &code);
    if (code != Z_OK && code != Z_STREAM_END && code != Z_BUF_ERROR) {
        *why = m;
        return -1;
    }
    return got;
}

/* zlib prefixes its messages with the path, which the error names anyway. */
static const char *zmsg(const char *why, const char *path)
{
    size_t n = strlen(path);
    return !strncmp(why, path, n) && !strncmp(why + n, ": ", 2) ? why + n + 2 : why;
}

static uint32_t be32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Read an IDX ubyte file with `ndim` dimensions; dims[] gets the sizes and
 * *data the payload (malloc'ed). */
static int read_idx(const char *path, int ndim, uint32_t dims[3], uint8_t **data, nr_err *err)
{
    *data = NULL;
    gzFile f = gzopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    const char *why = "";
    int rc = 0;
    uint8_t hdr[16], extra;
    int hlen = 4 + 4 * ndim;
    int64_t got = gz_read_all(f, hdr, hlen, &why);
    if (got < 0) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL, "gzip stream: %s", zmsg(why, path));
        goto done;
    }
    if (got < hlen) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                        "truncated header: expected %d bytes, got %lld", hlen, (long long)got);
        goto done;
    }
    uint32_t magic = be32(hdr), want = 0x800u | (uint32_t)ndim;
    if (magic != want) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                        "wrong magic %u (0x%08x): expected %u (IDX ubyte, %d dimension%s)", magic,
                        magic, want, ndim, ndim > 1 ? "s" : "");
        goto done;
    }
    uint64_t total = 1;
    for (int d = 0; d < ndim; d++) {
        dims[d] = be32(hdr + 4 + 4 * d);
        if (dims[d] == 0 || dims[d] > (d == 0 ? (1u << 30) : 65536u)) {
            rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                            "dimension %d is %u: expected 1..%u", d, dims[d],
                            d == 0 ? (1u << 30) : 65536u);
            goto done;
        }
        total *= dims[d];
    }
    if (total > (1ull << 32)) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                        "header declares %llu bytes of data: expected at most 4 GiB",
                        (unsigned long long)total);
        goto done;
    }
    /* The buffer grows with what the file really holds (doubling from
     * 1 MiB), so a header that declares gigabytes of a short file costs
     * nothing before the truncation is seen. */
    uint64_t cap = total < (1u << 20) ? total : (1u << 20), have = 0;
    got = 0;
    *data = malloc((size_t)cap);
    while (*data) {
        got = gz_read_all(f, *data + have, (int64_t)(cap - have), &why);
        if (got < 0 || (have += (uint64_t)got) < cap || cap == total)
            break;
        cap = cap * 2 < total ? cap * 2 : total;
        uint8_t *bigger = realloc(*data, (size_t)cap);
        if (!bigger) {
            free(*data);
            *data = NULL;
        }
        *data = bigger;
    }
    if (!*data) {
        rc = nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory (%llu bytes)",
                        (unsigned long long)cap);
        goto done;
    }
    if (got < 0) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL, "gzip stream: %s", zmsg(why, path));
        goto done;
    }
    got = (int64_t)have;
    if ((uint64_t)got < total) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                        "truncated: header declares %llu data bytes, file has %lld",
                        (unsigned long long)total, (long long)got);
        goto done;
    }
    got = gz_read_all(f, &extra, 1, &why);
    if (got != 0) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                        got < 0 ? "gzip stream: %s"
                                : "extra data after the %s bytes the header declares",
                        got < 0 ? zmsg(why, path) : (ndim == 1 ? "label" : "pixel"));
        goto done;
    }
done:
    gzclose(f);
    if (rc) {
        free(*data);
        *data = NULL;
    }
    return rc;
}

static int idx_read(const void *impl, int64_t i, nr_ds_image *img, nr_err *err)
{
    const idx *d = impl;
    size_t n = (size_t)d->h * d->w;
    img->h = d->h, img->w = d->w, img->c = 1;
    img->px = malloc(n);
    if (!img->px)
        return nr_err_set(err, NR_ENOMEM, d->images, 0, 0, NULL, "out of memory");
    memcpy(img->px, d->px + (size_t)i * n, n);
    return 0;
}

static const char *idx_name(const void *impl, int64_t i)
{
    (void)i;
    return ((const idx *)impl)->images;
}

static void idx_close(void *impl)
{
    idx *d = impl;
    if (!d)
        return;
    free(d->px);
    free(d->labels);
    free(d);
}

int nr_ds_idx_open(const char *images, const char *labels, int num_classes, nr_ds_reader *r,
                   nr_err *err)
{
    memset(r, 0, sizeof *r);
    idx *d = calloc(1, sizeof *d);
    uint8_t *lab = NULL;
    if (!d)
        return nr_err_set(err, NR_ENOMEM, images, 0, 0, NULL, "out of memory");
    snprintf(d->images, sizeof d->images, "%s", images);
    uint32_t di[3], dl[3];
    int rc = read_idx(images, 3, di, &d->px, err);
    if (!rc)
        rc = read_idx(labels, 1, dl, &lab, err);
    if (rc)
        goto fail;
    if (di[0] != dl[0]) {
        rc = nr_err_set(err, NR_ESHAPE, labels, 0, 0, NULL,
                        "%u labels: expected %u, the image count of %s", dl[0], di[0], images);
        goto fail;
    }
    d->count = di[0], d->h = (int)di[1], d->w = (int)di[2];
    d->labels = malloc(sizeof(int) * (size_t)d->count);
    if (!d->labels) {
        rc = nr_err_set(err, NR_ENOMEM, labels, 0, 0, NULL, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < d->count; i++) {
        if (lab[i] >= num_classes) {
            rc = nr_err_set(err, NR_ERANGE, labels, 0, 0, NULL,
                            "label %u of sample %lld: expected 0..%d", lab[i], (long long)i,
                            num_classes - 1);
            goto fail;
        }
        d->labels[i] = lab[i];
    }
    free(lab);
    r->impl = d;
    r->count = d->count;
    r->h = d->h, r->w = d->w, r->c = 1;
    r->labels = d->labels;
    r->read = idx_read;
    r->name = idx_name;
    r->close = idx_close;
    return 0;
fail:
    free(lab);
    idx_close(d);
    return rc;
}
