/* npy.c -- NumPy .npy files in and out (network inputs and outputs).
 *
 * Layout: "\x93NUMPY", major, minor (1.0, 2.0 or 3.0), a little-endian
 * header length (2 bytes in 1.0, 4 bytes in 2.0/3.0), then that many bytes
 * of a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (8, 1, 28, 28), } padded with spaces and ended by '\n', then the
 * raw data.  The header is hostile input: it is parsed by the small
 * grammar below (only strings, True/False and tuples of integers), every
 * key must appear exactly once, and the data length must match the shape
 * exactly. */
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NPY_MAXDIM 4

typedef struct hp {
    const unsigned char *s;
    size_t n, i;
    const char *path;
    nr_err *err;
} hp;

static int hfail(hp *p, const char *where, const char *msg)
{
    return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, where, "%s (header byte %zu)", msg,
                      p->i);
}

static void hws(hp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                           p->s[p->i] == '\r'))
        p->i++;
}

static int hpeek(hp *p, char c)
{
    hws(p);
    if (p->i < p->n && p->s[p->i] == (unsigned char)c) {
        p->i++;
        return 1;
    }
    return 0;
}

/* A quoted string ('..' or ".."), no escapes needed for the keys and
 * dtype strings numpy writes; a backslash is rejected. */
static int hstring(hp *p, char *out, size_t cap, const char *where, const char *what)
{
    hws(p);
    if (p->i >= p->n || (p->s[p->i] != '\'' && p->s[p->i] != '"')) {
        char m[128];
        snprintf(m, sizeof m, "expected %s", what);
        return hfail(p, where, m);
    }
    unsigned char q = p->s[p->i++];
    size_t k = 0;
    while (p->i < p->n && p->s[p->i] != q) {
        unsigned char c = p->s[p->i];
        if (c < 0x20 || c == '\\' || c >= 0x7F)
            return hfail(p, where, "unexpected character in a string");
        if (k + 1 >= cap)
            return hfail(p, where, "string too long");
        out[k++] = (char)c;
        p->i++;
    }
    if (p->i >= p->n)
        return hfail(p, where, "header ends inside a string");
    p->i++;
    out[k] = 0;
    return 0;
}

/* ( d, d, ... ) with an optional trailing comma; "(8,)" and "()" too. */
static int hshape(hp *p, int64_t *shape, int *ndim)
{
    const char *where = "shape";
    int k = 0;
    if (!hpeek(p, '('))
        return hfail(p, where, "expected a tuple of integers, e.g. (8, 3, 32, 32)");
    for (;;) {
        if (hpeek(p, ')'))
            break;
        hws(p);
        size_t start = p->i;
        int64_t v = 0;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
            int d = p->s[p->i] - '0';
            if (v > (INT64_MAX - d) / 10)
                return hfail(p, where, "dimension too large");
            v = v * 10 + d;
            p->i++;
        }
        if (p->i == start)
            return hfail(p, where, "expected a non-negative integer dimension");
        if (p->i < p->n && p->s[p->i] == 'L')   /* Python 2 long suffix */
            p->i++;
        if (k == NPY_MAXDIM) {
            char m[96];
            snprintf(m, sizeof m, "more than %d dimensions (expected 1 to %d)", NPY_MAXDIM,
                     NPY_MAXDIM);
            return hfail(p, where, m);
        }
        shape[k++] = v;
        if (hpeek(p, ','))
            continue;
        if (hpeek(p, ')'))
            break;
        return hfail(p, where, "expected ',' or ')'");
    }
    *ndim = k;
    return 0;
}

static int hbool(hp *p, int *v)
{
    hws(p);
    if (p->n - p->i >= 4 && !memcmp(p->s + p->i, "True", 4)) {
        p->i += 4;
        *v = 1;
        return 0;
    }
    if (p->n - p->i >= 5 && !memcmp(p->s + p->i, "False", 5)) {
        p->i += 5;
        *v = 0;
        return 0;
    }
    return hfail(p, "fortran_order", "expected True or False");
}

static int parse_header(hp *p, int *itemsize, int64_t shape[4], int *ndim, int want_int)
{
    char key[32], descr[32];
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    if (!hpeek(p, '{'))
        return hfail(p, "header", "expected a dict ('{')");
    for (;;) {
        if (hpeek(p, '}'))
            break;
        if (hstring(p, key, sizeof key, "header", "a key ('descr', 'fortran_order', 'shape')"))
            return -1;
        if (!hpeek(p, ':'))
            return hfail(p, key, "expected ':'");
        int *seen = !strcmp(key, "descr") ? &have_descr
                    : !strcmp(key, "fortran_order") ? &have_fortran
                    : !strcmp(key, "shape") ? &have_shape : NULL;
        if (!seen)
            return hfail(p, key, "unknown key (expected 'descr', 'fortran_order', 'shape')");
        if (*seen)
            return hfail(p, key, "duplicate key");
        *seen = 1;
        if (seen == &have_descr) {
            if (hstring(p, descr, sizeof descr, "descr", "a dtype string such as '<f4'"))
                return -1;
        } else if (seen == &have_fortran) {
            if (hbool(p, &fortran))
                return -1;
        } else if (hshape(p, shape, ndim))
            return -1;
        if (hpeek(p, ','))
            continue;
        if (hpeek(p, '}'))
            break;
        return hfail(p, "header", "expected ',' or '}'");
    }
    hws(p);
    if (p->i != p->n)
        return hfail(p, "header", "unexpected bytes after the dict");
    const char *missing = !have_descr ? "descr" : !have_fortran ? "fortran_order"
                          : !have_shape ? "shape" : NULL;
    if (missing)
        return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, missing, "missing key '%s'",
                          missing);
    if (want_int) { /* nr_npy_read_i32: only <i4 */
        if (strcmp(descr, "<i4"))
            return nr_err_set(p->err, NR_EUNSUP, p->path, 0, 0, "descr",
                              "dtype '%s' is not supported (expected '<i4', int32)", descr);
        *itemsize = 4;
    } else if (!strcmp(descr, "<f4"))
        *itemsize = 4;
    else if (!strcmp(descr, "<f8"))
        *itemsize = 8;
    else if (descr[0] == '>' && (!strcmp(descr + 1, "f4") || !strcmp(descr + 1, "f8")))
        return nr_err_set(p->err, NR_EUNSUP, p->path, 0, 0, "descr",
                          "big-endian dtype '%s' is not supported (expected '<f4' or '<f8')",
                          descr);
    else
        return nr_err_set(p->err, NR_EUNSUP, p->path, 0, 0, "descr",
                          "dtype '%s' is not supported (expected '<f4' or '<f8')", descr);
    if (fortran)
        return nr_err_set(p->err, NR_EUNSUP, p->path, 0, 0, "fortran_order",
                          "Fortran-order arrays are not supported (expected C order, "
                          "fortran_order False)");
    if (*ndim < 1)
        return nr_err_set(p->err, NR_EUNSUP, p->path, 0, 0, "shape",
                          "0-dimensional array (expected 1 to %d dimensions)", NPY_MAXDIM);
    return 0;
}

/* The whole regular file path into *buf (*size bytes; malloc'd). */
static int slurp(const char *path, unsigned char **buf, size_t *size, nr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size > (uint64_t)SIZE_MAX / 2) {
        fclose(f);
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "not a regular file of usable size");
    }
    *size = (size_t)sb.st_size;
    unsigned char *b = malloc(*size ? *size : 1);
    if (!b) {
        fclose(f);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    size_t got = fread(b, 1, *size, f);
    int ioerr = ferror(f);
    fclose(f);
    if (got != *size || ioerr) {
        free(b);
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "read error");
    }
    *buf = b;
    return 0;
}

/* The fixed preamble of the size bytes at b: magic, version, header
 * length; *pre: the header's offset, *hlen: its length (inside the file). */
static int preamble(const unsigned char *b, size_t size, const char *path, size_t *pre,
                    uint64_t *hlen, nr_err *err)
{
    if (size < 10 || memcmp(b, "\x93NUMPY", 6))
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, "magic",
                          "not a .npy file (expected the magic \\x93NUMPY)");
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return nr_err_set(err, NR_EUNSUP, path, 0, 0, "version",
                          ".npy version %d.%d is not supported (expected 1.0, 2.0 or 3.0)", major,
                          minor);
    *pre = major == 1 ? 10 : 12;
    if (size < *pre)
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, "header length",
                          "file ends inside the header length field");
    *hlen = major == 1 ? (uint64_t)b[8] | (uint64_t)b[9] << 8
                       : (uint64_t)b[8] | (uint64_t)b[9] << 8 | (uint64_t)b[10] << 16 |
                             (uint64_t)b[11] << 24;
    if (*hlen > size - *pre)
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, "header length",
                          "header length %llu reaches beyond the end of the file (%zu bytes left)",
                          (unsigned long long)*hlen, size - *pre);
    return 0;
}

/* The element count of shape sh (nd dims) into *count; checks that
 * count * 8 bytes fits an int64. */
static int element_count(const int64_t *sh, int nd, const char *path, uint64_t *count, nr_err *err)
{
    *count = 1;
    for (int k = 0; k < nd; k++) {
        if (sh[k] && *count > (uint64_t)INT64_MAX / 8 / (uint64_t)sh[k])
            return nr_err_set(err, NR_ECORRUPT, path, 0, 0, "shape",
                              "shape is too large (element count overflows)");
        *count *= (uint64_t)sh[k];
    }
    return 0;
}

/* count little-endian items of itemsize bytes at q into d: 4 bytes copied
 * as they are (float32 or int32 bits), 8 bytes (<f8) rounded to float32. */
static void convert(const unsigned char *q, uint64_t count, int itemsize, float *d)
{
    for (uint64_t k = 0; k < count; k++, q += itemsize) {
        uint64_t x = 0;
        for (int j = itemsize - 1; j >= 0; j--)
            x = x << 8 | q[j];
        if (itemsize == 4) {
            uint32_t u = (uint32_t)x;
            memcpy(&d[k], &u, 4);
        } else {
            double v;
            memcpy(&v, &x, 8);
            /* <f8 input: rounded to nearest float32 (the host conversion is
             * IEEE round-to-nearest-even; out of range becomes inf). */
            d[k] = (float)v;
        }
    }
}

/* Read path, check its header (dtype <i4 when want_int, else <f4/<f8) and
 * length; *data = malloc'ed 4-byte elements (float32, or int32 bits). */
static int read_npy(const char *path, void **data, int64_t shape[4], int *ndim, int want_int,
                    nr_err *err)
{
    *data = NULL;
    *ndim = 0;
    unsigned char *b = NULL;
    size_t size = 0, pre = 0;
    uint64_t hlen = 0, count = 0;
    int rc = slurp(path, &b, &size, err);
    if (rc)
        return rc;
    if ((rc = preamble(b, size, path, &pre, &hlen, err)))
        goto out;
    hp p = {b + pre, (size_t)hlen, 0, path, err};
    int itemsize = 0;
    int64_t sh[NPY_MAXDIM] = {0};
    int nd = 0;
    if (parse_header(&p, &itemsize, sh, &nd, want_int)) {
        rc = -(err && err->code ? err->code : NR_ECORRUPT);
        goto out;
    }
    if ((rc = element_count(sh, nd, path, &count, err)))
        goto out;
    uint64_t have = size - pre - hlen, need = count * (uint64_t)itemsize;
    if (have != need) {
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, "data",
                        "file has %llu data bytes, but the shape and dtype need %llu%s",
                        (unsigned long long)have, (unsigned long long)need,
                        have < need ? " (file truncated?)" : "");
        goto out;
    }
    float *d = malloc(count ? (size_t)count * sizeof *d : 1); /* or int32 bits */
    if (!d) {
        rc = nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto out;
    }
    convert(b + pre + hlen, count, itemsize, d);
    *data = d;
    for (int k = 0; k < nd; k++)
        shape[k] = sh[k];
    *ndim = nd;
out:
    free(b);
    return rc;
}

int nr_npy_read_f32(const char *path, float **data, int64_t shape[4], int *ndim, nr_err *err)
{
    return read_npy(path, (void **)data, shape, ndim, 0, err);
}

int nr_npy_read_i32(const char *path, int32_t **data, int64_t shape[4], int *ndim, nr_err *err)
{
    return read_npy(path, (void **)data, shape, ndim, 1, err);
}

int nr_npy_write_f32(const char *path, const float *data, const int64_t *shape, int ndim,
                     nr_err *err)
{
    if (ndim < 1 || ndim > NPY_MAXDIM)
        return nr_err_set(err, NR_ERANGE, path, 0, 0, "shape", "ndim %d, expected 1 to %d",
                          ndim, NPY_MAXDIM);
    char h[256]; /* NPY_MAXDIM decimals and the padding fit */
    nr_strbuf hs = nr_strbuf_on(h, sizeof h - 64);
    nr_strbuf_add(&hs, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    uint64_t count = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (shape[i] && count > (uint64_t)INT64_MAX / 8 / (uint64_t)shape[i]))
            return nr_err_set(err, NR_ERANGE, path, 0, 0, "shape",
                              "shape[%d] = %lld is negative or too large", i,
                              (long long)shape[i]);
        count *= (uint64_t)shape[i];
        nr_strbuf_add(&hs, "%lld%s", (long long)shape[i],
                      ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
    }
    nr_strbuf_add(&hs, "), }");
    int k = (int)hs.len;
    /* numpy pads with spaces so that the data starts 64-byte aligned, and
     * ends the header with '\n'. */
    while ((10 + k + 1) % 64)
        h[k++] = ' ';
    h[k++] = '\n';
    if (count && !data)
        return nr_err_set(err, NR_EINTERNAL, path, 0, 0, NULL, "no data");
    FILE *f = fopen(path, "wb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot create: %s", strerror(errno));
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(k & 0xFF),
                             (unsigned char)(k >> 8)};
    int bad = fwrite(pre, 1, 10, f) != 10 || fwrite(h, 1, (size_t)k, f) != (size_t)k;
    unsigned char chunk[4096];
    size_t fill = 0;
    for (uint64_t e = 0; e < count && !bad; e++) {
        uint32_t u;
        memcpy(&u, &data[e], 4);
        for (int b = 0; b < 4; b++)
            chunk[fill++] = (unsigned char)(u >> (8 * b));
        if (fill == sizeof chunk || e + 1 == count) {
            bad = fwrite(chunk, 1, fill, f) != fill;
            fill = 0;
        }
    }
    if (fclose(f) || bad) {
        remove(path);
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "write error");
    }
    return 0;
}
