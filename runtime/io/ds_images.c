/* ds_images.c -- a folder of JPEG/PNG images with a `file label` list (the
 * ImageNet samples).  The list is parsed and every listed file checked to
 * exist at open; images are decoded only when asked for.  Decoding matches
 * PIL 9.4's Image.open(...).convert('RGB'): libjpeg-turbo with its default
 * settings (islow DCT, fancy upsampling), grayscale copied to R, G and B,
 * CMYK JPEGs read with Adobe's inverted polarity and converted with PIL's
 * formula, PNG alpha dropped, 16-bit PNG samples cut to their high byte.
 * libjpeg and libpng report errors by longjmp back here; nothing exits. */
#include "dataset.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>
#include <jerror.h> /* JWRN_JPEG_EOF */

#define MAX_PIXELS (1 << 28) /* refuse images above 256 Mpixel */

typedef struct entry {
    char *path; /* dir + name */
    int line;   /* in the list, for messages */
} entry;

typedef struct images {
    int64_t count;
    entry *e;
    int *labels;
} images;

/* ---------------------------------------------------------------- files */

static int slurp(const char *path, uint8_t **buf, size_t *n, nr_err *err)
{
    *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "expected a regular file");
    }
    if (st.st_size > (1ll << 31)) {
        fclose(f);
        return nr_err_set(err, NR_ERANGE, path, 0, 0, NULL, "file of %lld bytes: expected < 2 GiB",
                          (long long)st.st_size);
    }
    *n = (size_t)st.st_size;
    *buf = malloc(*n + 1);
    if (!*buf) {
        fclose(f);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    size_t got = fread(*buf, 1, *n, f);
    fclose(f);
    if (got != *n) {
        free(*buf);
        *buf = NULL;
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "read %zu of %zu bytes", got, *n);
    }
    (*buf)[*n] = 0;
    return 0;
}

/* ---------------------------------------------------------------- JPEG */

typedef struct jerr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    int truncated; /* libjpeg warned that the data ended early */
} jerr;

static void jpeg_fail(j_common_ptr ci)
{
    jerr *e = (jerr *)ci->err;
    longjmp(e->jb, 1);
}

/* Warnings are not printed (the library never writes to stderr).  Running
 * out of data is an error, as PIL's "image file is truncated"; other
 * warnings about recoverable corruption are ignored, as PIL does. */
static void jpeg_warn(j_common_ptr ci, int level)
{
    jerr *e = (jerr *)ci->err;
    if (level < 0 && e->pub.msg_code == JWRN_JPEG_EOF)
        e->truncated = 1;
}

static uint8_t muldiv255(int a, int b)
{
    int t = a * b + 128;
    return (uint8_t)(((t >> 8) + t) >> 8);
}

static int decode_jpeg(const char *path, const uint8_t *buf, size_t n, nr_ds_image *img,
                       nr_err *err)
{
    struct jpeg_decompress_struct ci;
    jerr je;
    /* Touched between setjmp and longjmp: volatile so they survive. */
    uint8_t *volatile px = NULL;
    uint8_t *volatile row = NULL;
    memset(&ci, 0, sizeof ci);
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_fail;
    je.pub.emit_message = jpeg_warn;
    je.truncated = 0;
    if (setjmp(je.jb)) {
        char msg[JMSG_LENGTH_MAX];
        je.pub.format_message((j_common_ptr)&ci, msg);
        jpeg_destroy_decompress(&ci);
        free(px);
        free(row);
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL, "corrupt JPEG: %s", msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, buf, (unsigned long)n);
    jpeg_read_header(&ci, TRUE);
    if ((int64_t)ci.image_width * ci.image_height > MAX_PIXELS) {
        jpeg_destroy_decompress(&ci);
        return nr_err_set(err, NR_ERANGE, path, 0, 0, NULL,
                          "JPEG of %ux%u: expected at most %d pixels", ci.image_width,
                          ci.image_height, MAX_PIXELS);
    }
    int cmyk = ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK;
    int gray = ci.jpeg_color_space == JCS_GRAYSCALE;
    ci.out_color_space = cmyk ? JCS_CMYK : gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&ci);
    int w = (int)ci.output_width, h = (int)ci.output_height, nc = ci.output_components;
    if (w < 1 || h < 1 || (int64_t)w * h > MAX_PIXELS) {
        jpeg_destroy_decompress(&ci);
        return nr_err_set(err, NR_ERANGE, path, 0, 0, NULL,
                          "JPEG of %dx%d: expected at most %d pixels", w, h, MAX_PIXELS);
    }
    px = malloc((size_t)w * h * 3);
    row = malloc((size_t)w * nc);
    if (!px || !row) {
        jpeg_destroy_decompress(&ci);
        free(px);
        free(row);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    while (ci.output_scanline < ci.output_height) {
        int y = (int)ci.output_scanline;
        JSAMPROW rp = row;
        if (jpeg_read_scanlines(&ci, &rp, 1) != 1)
            break; /* suspended: cannot happen with a memory source */
        uint8_t *o = px + (size_t)y * w * 3;
        for (int x = 0; x < w; x++) {
            const uint8_t *s = row + (size_t)x * nc;
            if (nc == 1) {
                o[3 * x] = o[3 * x + 1] = o[3 * x + 2] = s[0];
            } else if (nc == 3) {
                memcpy(o + 3 * x, s, 3);
            } else {
                /* PIL reads CMYK JPEGs inverted ("CMYK;I", Adobe's
                 * convention), then convert('RGB'): v = nk - nk*c/255. */
                int nk = 255 - (255 - s[3]);
                for (int k = 0; k < 3; k++) {
                    int v = nk - muldiv255(255 - s[k], nk); /* PIL cmyk2rgb */
                    o[3 * x + k] = (uint8_t)(v < 0 ? 0 : v);
                }
            }
        }
    }
    int truncated = je.truncated || ci.output_scanline < ci.output_height;
    if (!truncated)
        jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    free(row);
    if (truncated) {
        free(px);
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                          "truncated JPEG: the data ends before the image does");
    }
    img->h = h, img->w = w, img->c = 3, img->px = px;
    return 0;
}

/* ---------------------------------------------------------------- PNG */

typedef struct pngsrc {
    const uint8_t *buf;
    size_t n, pos;
    jmp_buf jb;
    char msg[200];
} pngsrc;

static void png_fail(png_structp ps, png_const_charp msg)
{
    pngsrc *s = png_get_error_ptr(ps);
    snprintf(s->msg, sizeof s->msg, "%s", msg);
    longjmp(s->jb, 1);
}

static void png_warn(png_structp ps, png_const_charp msg)
{
    (void)ps, (void)msg; /* not printed: the library never writes to stderr */
}

static void png_src(png_structp ps, png_bytep out, png_size_t n)
{
    pngsrc *s = png_get_io_ptr(ps);
    if (n > s->n - s->pos)
        png_error(ps, "truncated PNG: the data ends before the image does");
    memcpy(out, s->buf + s->pos, n);
    s->pos += n;
}

static int decode_png(const char *path, const uint8_t *buf, size_t n, nr_ds_image *img,
                      nr_err *err)
{
    pngsrc src = {.buf = buf, .n = n, .pos = 0};
    png_structp ps = png_create_read_struct(PNG_LIBPNG_VER_STRING, &src, png_fail, png_warn);
    png_infop info = ps ? png_create_info_struct(ps) : NULL;
    uint8_t *volatile px = NULL;
    png_bytep *volatile rows = NULL;
    if (!ps || !info) {
        png_destroy_read_struct(ps ? &ps : NULL, NULL, NULL);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    if (setjmp(src.jb)) {
        png_destroy_read_struct(&ps, &info, NULL);
        free(px);
        free(rows);
        return nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL, "corrupt PNG: %s", src.msg);
    }
    png_set_read_fn(ps, &src, png_src);
    png_read_info(ps, info);
    png_uint_32 w = png_get_image_width(ps, info), h = png_get_image_height(ps, info);
    if ((int64_t)w * h > MAX_PIXELS)
        png_error(ps, "image too large (more than 2^28 pixels)");
    png_set_strip_16(ps);     /* PIL's "RGB;16B" keeps the high byte */
    png_set_strip_alpha(ps);  /* convert('RGB') drops alpha, no blending */
    png_set_palette_to_rgb(ps);
    png_set_expand_gray_1_2_4_to_8(ps);
    png_set_gray_to_rgb(ps);
    png_set_interlace_handling(ps);
    png_read_update_info(ps, info);
    if (png_get_channels(ps, info) != 3 || png_get_bit_depth(ps, info) != 8)
        png_error(ps, "unexpected pixel layout after conversion to 8-bit RGB");
    px = malloc((size_t)w * h * 3);
    rows = malloc(sizeof(png_bytep) * h);
    if (!px || !rows)
        png_error(ps, "out of memory");
    for (png_uint_32 y = 0; y < h; y++)
        rows[y] = px + (size_t)y * w * 3;
    png_read_image(ps, rows);
    png_read_end(ps, NULL);
    png_destroy_read_struct(&ps, &info, NULL);
    free(rows);
    img->h = (int)h, img->w = (int)w, img->c = 3, img->px = px;
    return 0;
}

int nr_ds_images_decode(const char *path, nr_ds_image *img, nr_err *err)
{
    uint8_t *buf;
    size_t n;
    memset(img, 0, sizeof *img);
    int rc = slurp(path, &buf, &n, err);
    if (rc)
        return rc;
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 3 && buf[0] == 0xff && buf[1] == 0xd8 && buf[2] == 0xff)
        rc = decode_jpeg(path, buf, n, img, err);
    else if (n >= 8 && !memcmp(buf, png_sig, 8))
        rc = decode_png(path, buf, n, img, err);
    else
        rc = nr_err_set(err, NR_ECORRUPT, path, 0, 0, NULL,
                        "not an image: expected a JPEG (FF D8 FF) or PNG signature");
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- list */

static int images_read(const void *impl, int64_t i, nr_ds_image *img, nr_err *err)
{
    const images *d = impl;
    return nr_ds_images_decode(d->e[i].path, img, err);
}

static const char *images_name(const void *impl, int64_t i)
{
    return ((const images *)impl)->e[i].path;
}

static void images_close(void *impl)
{
    images *d = impl;
    if (!d)
        return;
    for (int64_t i = 0; i < d->count; i++)
        free(d->e[i].path);
    free(d->e);
    free(d->labels);
    free(d);
}

/* A listed name must stay inside the folder: relative, no ".." part. */
static int safe_name(const char *s)
{
    if (s[0] == '/')
        return 0;
    for (const char *p = s; *p;) {
        const char *q = strchr(p, '/');
        size_t len = q ? (size_t)(q - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return 0;
        p += len + (q != NULL);
    }
    return 1;
}

/* Parse one non-blank, non-comment line: `name label`. */
static int parse_line(char *s, const char *list, int line, int num_classes, char **name,
                      int *label, nr_err *err)
{
    char *f[3];
    int nf = 0;
    for (char *p = s; *p && nf < 3;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        f[nf++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = 0;
    }
    if (nf != 2)
        return nr_err_set(err, NR_ESYNTAX, list, line, 0, NULL,
                          "expected `file label` (2 fields), got %d field%s", nf == 3 ? 3 : nf,
                          nf == 1 ? "" : "s");
    char *end;
    errno = 0;
    long v = strtol(f[1], &end, 10);
    if (*end || end == f[1] || errno || !isdigit((unsigned char)f[1][0]) || v > INT_MAX)
        return nr_err_set(err, NR_ESYNTAX, list, line, 0, NULL,
                          "label \"%.40s\": expected a non-negative integer", f[1]);
    if (num_classes > 0 && v >= num_classes)
        return nr_err_set(err, NR_ERANGE, list, line, 0, NULL, "label %ld: expected 0..%d", v,
                          num_classes - 1);
    if (!safe_name(f[0]))
        return nr_err_set(err, NR_ERANGE, list, line, 0, NULL,
                          "file \"%.60s\": expected a relative name inside the folder", f[0]);
    *name = f[0];
    *label = (int)v;
    return 0;
}

int nr_ds_images_open(const char *list, const char *dir, int num_classes, nr_ds_reader *r,
                      nr_err *err)
{
    memset(r, 0, sizeof *r);
    uint8_t *text;
    size_t n;
    int rc = slurp(list, &text, &n, err);
    if (rc)
        return rc;
    images *d = calloc(1, sizeof *d);
    int64_t cap = 0;
    if (!d) {
        free(text);
        return nr_err_set(err, NR_ENOMEM, list, 0, 0, NULL, "out of memory");
    }
    if (memchr(text, 0, n)) {
        rc = nr_err_set(err, NR_ESYNTAX, list, 0, 0, NULL, "expected text, found a NUL byte");
        goto fail;
    }
    int line = 0;
    for (char *s = (char *)text; s && *s;) {
        char *nl = strchr(s, '\n');
        if (nl)
            *nl = 0;
        line++;
        size_t len = strlen(s);
        if (len && s[len - 1] == '\r')
            s[--len] = 0;
        char *p = s;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p && *p != '#') {
            char *name = NULL;
            int label = 0;
            if ((rc = parse_line(p, list, line, num_classes, &name, &label, err)))
                goto fail;
            if (d->count == cap) {
                cap = cap ? 2 * cap : 256;
                entry *e = realloc(d->e, sizeof *e * (size_t)cap);
                int *l = realloc(d->labels, sizeof *l * (size_t)cap);
                if (e)
                    d->e = e;
                if (l)
                    d->labels = l;
                if (!e || !l) {
                    rc = nr_err_set(err, NR_ENOMEM, list, 0, 0, NULL, "out of memory");
                    goto fail;
                }
            }
            size_t plen = strlen(dir) + strlen(name) + 2;
            entry *e = &d->e[d->count];
            e->path = malloc(plen);
            if (!e->path) {
                rc = nr_err_set(err, NR_ENOMEM, list, 0, 0, NULL, "out of memory");
                goto fail;
            }
            snprintf(e->path, plen, "%s/%s", dir, name);
            e->line = line;
            d->labels[d->count++] = label;
            struct stat st;
            int missing = stat(e->path, &st) != 0;
            if (missing || !S_ISREG(st.st_mode)) {
                rc = nr_err_set(err, NR_EIO, list, line, 0, NULL, "listed image %s: %s",
                                e->path, missing ? strerror(errno) : "expected a regular file");
                goto fail;
            }
        }
        s = nl ? nl + 1 : NULL;
    }
    if (d->count == 0) {
        rc = nr_err_set(err, NR_ESYNTAX, list, 0, 0, NULL,
                        "no images listed: expected lines of `file label`");
        goto fail;
    }
    free(text);
    r->impl = d;
    r->count = d->count;
    r->h = 0, r->w = 0, r->c = 3;
    r->labels = d->labels;
    r->read = images_read;
    r->name = images_name;
    r->close = images_close;
    return 0;
fail:
    free(text);
    images_close(d);
    return rc;
}
