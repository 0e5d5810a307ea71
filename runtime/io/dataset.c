/* dataset.c -- the dataset handle: picks a reader (from the kind, or from
 * what the path looks like), fixes the preprocessed sample shape, and turns
 * stored images into float32 batches on demand. */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct nr_dataset {
    nr_ds_kind kind;
    nr_ds_reader r;
    nr_preprocess pp;
    int num_classes;
    int shape[3];
    int64_t sample;  /* floats per sample */
};

static const char *const kind_names[] = {"auto", "idx", "cifar-raw", "cifar-bin", "images"};
enum { NKINDS = sizeof kind_names / sizeof kind_names[0] };

const char *nr_dataset_kind_name(nr_ds_kind k)
{
    return (unsigned)k < NKINDS ? kind_names[k] : "?";
}

int nr_dataset_kind_parse(const char *s, nr_ds_kind *out, nr_err *err)
{
    for (int k = 0; k < NKINDS; k++)
        if (!strcmp(s, kind_names[k])) {
            *out = (nr_ds_kind)k;
            return 0;
        }
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "dataset kind",
                      "\"%.40s\": expected auto, idx, cifar-raw, cifar-bin or images", s);
}

void nr_dataset_opts_init(nr_dataset_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = NR_DS_AUTO;
    nr_preprocess_init(&o->pp);
}

/* ---------------------------------------------------------------- paths */

typedef char pathbuf[4096];

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && !strcmp(s + n - m, suf);
}

/* A path too long for the buffer becomes "" (which names no file). */
static void join(pathbuf out, const char *dir, const char *name)
{
    if (snprintf(out, sizeof(pathbuf), "%s/%s", dir, name) >= (int)sizeof(pathbuf))
        out[0] = 0;
}

static void dirname_of(pathbuf out, const char *path)
{
    snprintf(out, sizeof(pathbuf), "%s", path);
    char *s = strrchr(out, '/');
    if (!s)
        snprintf(out, sizeof(pathbuf), ".");
    else if (s == out)
        out[1] = 0;
    else
        *s = 0;
}

/* The labels file for an IDX images file: "images-idx3" -> "labels-idx1",
 * with or without the .gz of the images file. */
static int idx_labels_for(const char *images, pathbuf out)
{
    const char *m = strstr(images, "images-idx3");
    if (!m)
        return -1;
    snprintf(out, sizeof(pathbuf), "%.*slabels-idx1%s", (int)(m - images), images,
             m + strlen("images-idx3"));
    if (is_file(out))
        return 0;
    size_t n = strlen(out);
    if (ends_with(out, ".gz"))
        out[n - 3] = 0;
    else
        snprintf(out + n, sizeof(pathbuf) - n, ".gz");
    return is_file(out) ? 0 : -1;
}

/* An IDX images file in dir: the t10k (test) one when there are several,
 * else the first by name, so the choice does not depend on readdir order. */
static int idx_find(const char *dir, pathbuf images, nr_err *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return nr_err_set(err, NR_EIO, dir, 0, 0, NULL, "cannot open directory: %s",
                          strerror(errno));
    char best[256] = "";
    int best_rank = -1;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, "images-idx3-ubyte") || strlen(e->d_name) >= sizeof best)
            continue;
        int rank = !strncmp(e->d_name, "t10k", 4);
        if (rank > best_rank || (rank == best_rank && strcmp(e->d_name, best) < 0)) {
            snprintf(best, sizeof best, "%s", e->d_name);
            best_rank = rank;
        }
    }
    closedir(d);
    if (best_rank < 0)
        return -1;
    join(images, dir, best);
    return 0;
}

/* Decide the kind of path and the files the reader opens. */
static int detect(const char *path, nr_ds_kind want, nr_ds_kind *kind, pathbuf a, pathbuf b,
                  nr_err *err)
{
    pathbuf t;
    int dir = is_dir(path);
    if (!dir && !is_file(path))
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "no such file or directory");
    *kind = want;
    if (dir) {
        join(a, path, "test_images.u8");
        join(b, path, "test_labels.u8");
        if ((want == NR_DS_AUTO || want == NR_DS_CIFAR_RAW) && (is_file(a) || want)) {
            *kind = NR_DS_CIFAR_RAW;
            return 0;
        }
        join(a, path, "labels.txt");
        if ((want == NR_DS_AUTO || want == NR_DS_IMAGES) && (is_file(a) || want)) {
            *kind = NR_DS_IMAGES;
            join(t, path, "images");
            snprintf(b, sizeof(pathbuf), "%s", is_dir(t) ? t : path);
            return 0;
        }
        join(a, path, "test_batch.bin");
        if ((want == NR_DS_AUTO || want == NR_DS_CIFAR_BIN) && (is_file(a) || want)) {
            *kind = NR_DS_CIFAR_BIN;
            return 0;
        }
        if ((want == NR_DS_AUTO || want == NR_DS_IDX) && idx_find(path, a, err) == 0) {
            *kind = NR_DS_IDX;
            if (idx_labels_for(a, b))
                return nr_err_set(err, NR_EIO, a, 0, 0, NULL,
                                  "no labels file next to it: expected the name with "
                                  "labels-idx1 in place of images-idx3");
            return 0;
        }
        if (err->code)
            return -err->code;
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL,
                          want == NR_DS_IDX
                              ? "no *images-idx3-ubyte[.gz] file in this directory"
                              : "not a dataset directory: expected test_images.u8 + "
                                "test_labels.u8, labels.txt, test_batch.bin or IDX files");
    }
    snprintf(a, sizeof(pathbuf), "%s", path);
    if (want == NR_DS_AUTO) {
        if (strstr(path, "images-idx3"))
            *kind = NR_DS_IDX;
        else if (ends_with(path, ".bin"))
            *kind = NR_DS_CIFAR_BIN;
        else if (ends_with(path, ".txt"))
            *kind = NR_DS_IMAGES;
        else
            return nr_err_set(err, NR_EUNSUP, path, 0, 0, NULL,
                              "cannot tell the dataset kind: expected *images-idx3-ubyte[.gz], "
                              "*.bin, *.txt or a directory (or give the kind)");
    }
    switch (*kind) {
    case NR_DS_IDX:
        if (idx_labels_for(a, b))
            return nr_err_set(err, NR_EIO, a, 0, 0, NULL,
                              "no labels file next to it: expected the name with labels-idx1 "
                              "in place of images-idx3");
        return 0;
    case NR_DS_IMAGES:
        dirname_of(t, path);
        join(b, t, "images");
        if (!is_dir(b))
            snprintf(b, sizeof(pathbuf), "%s", t);
        return 0;
    case NR_DS_CIFAR_BIN:
        return 0;
    default:
        return nr_err_set(err, NR_EUNSUP, path, 0, 0, NULL,
                          "%s data is a directory: expected test_images.u8 + test_labels.u8 in it",
                          nr_dataset_kind_name(*kind));
    }
}

/* ---------------------------------------------------------------- open */

int nr_dataset_open(const char *path, const nr_dataset_opts *o, nr_dataset **out, nr_err *err)
{
    *out = NULL;
    int rc = nr_preprocess_check(&o->pp, err);
    if (rc)
        return rc;
    if ((unsigned)o->kind >= NKINDS || o->num_classes < 0)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "dataset options",
                          "kind %d / num_classes %d out of range", (int)o->kind, o->num_classes);
    nr_dataset *ds = calloc(1, sizeof *ds);
    pathbuf *p = malloc(2 * sizeof(pathbuf)); /* two paths; keep them off the stack */
    if (!ds || !p) {
        free(ds);
        free(p);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    ds->pp = o->pp;
    if ((rc = detect(path, o->kind, &ds->kind, p[0], p[1], err)))
        goto fail;
    int ncls = o->num_classes ? o->num_classes : 10;
    switch (ds->kind) {
    case NR_DS_IDX:
        rc = nr_ds_idx_open(p[0], p[1], ncls, &ds->r, err);
        break;
    case NR_DS_CIFAR_RAW:
        rc = nr_ds_cifar_raw_open(p[0], p[1], ncls, &ds->r, err);
        break;
    case NR_DS_CIFAR_BIN:
        rc = nr_ds_cifar_bin_open(p[0], ncls, &ds->r, err);
        break;
    default:
        ncls = o->num_classes;
        rc = nr_ds_images_open(p[0], p[1], ncls, &ds->r, err);
        break;
    }
    if (rc)
        goto fail;
    ds->num_classes = ncls;
    int h = ds->r.h, w = ds->r.w;
    nr_ds_image first = {0};
    if (!h && !ds->pp.crop_h) {
        /* Sizes vary and nothing fixes the output: the first image sets it. */
        if ((rc = ds->r.read(ds->r.impl, 0, &first, err)))
            goto fail;
        h = first.h, w = first.w;
        free(first.px);
    } else if (!h) {
        h = ds->pp.crop_h, w = ds->pp.crop_w; /* crop fits whenever resize does */
        int s = ds->pp.resize_short;
        if (s && (s < h || s < w)) {
            rc = nr_err_set(err, NR_ESHAPE, path, 0, 0, "preprocess.crop",
                            "crop %dx%d does not fit images resized to shorter side %d", w, h,
                            s);
            goto fail;
        }
        if (ds->pp.resize_h && (ds->pp.resize_h < h || ds->pp.resize_w < w)) {
            rc = nr_err_set(err, NR_ESHAPE, path, 0, 0, "preprocess.crop",
                            "crop %dx%d does not fit images resized to %dx%d", w, h,
                            ds->pp.resize_w, ds->pp.resize_h);
            goto fail;
        }
    }
    const char *what = ds->r.name(ds->r.impl, 0);
    if ((rc = nr_preprocess_shape(&ds->pp, h, w, ds->r.c, ds->shape, what, err)))
        goto fail;
    ds->sample = (int64_t)ds->shape[0] * ds->shape[1] * ds->shape[2];
    free(p);
    *out = ds;
    return 0;
fail:
    free(p);
    nr_dataset_close(ds);
    return rc;
}

void nr_dataset_close(nr_dataset *ds)
{
    if (!ds)
        return;
    if (ds->r.close)
        ds->r.close(ds->r.impl);
    free(ds);
}

nr_ds_kind nr_dataset_kind(const nr_dataset *ds) { return ds->kind; }
int64_t nr_dataset_count(const nr_dataset *ds) { return ds->r.count; }
int64_t nr_dataset_sample_size(const nr_dataset *ds) { return ds->sample; }
int nr_dataset_num_classes(const nr_dataset *ds) { return ds->num_classes; }

void nr_dataset_shape(const nr_dataset *ds, int shape[3])
{
    memcpy(shape, ds->shape, sizeof ds->shape);
}

/* ---------------------------------------------------------------- get */

static int get_one(const nr_dataset *ds, int64_t i, float *out, nr_err *err)
{
    nr_ds_image img = {0};
    int rc = ds->r.read(ds->r.impl, i, &img, err);
    if (rc) {
        free(img.px);
        return rc;
    }
    const char *file = ds->r.name(ds->r.impl, i);
    int shape[3];
    rc = nr_preprocess_shape(&ds->pp, img.h, img.w, img.c, shape, file, err);
    if (!rc && memcmp(shape, ds->shape, sizeof shape))
        rc = nr_err_set(err, NR_ESHAPE, file, 0, 0, NULL,
                        "image %dx%d gives a %dx%dx%d sample: expected %dx%dx%d like the first "
                        "(give a resize and crop)",
                        img.w, img.h, shape[0], shape[1], shape[2], ds->shape[0], ds->shape[1],
                        ds->shape[2]);
    if (!rc)
        rc = nr_preprocess_apply(&ds->pp, img.px, img.h, img.w, img.c, out, file, err);
    free(img.px);
    return rc;
}

int nr_dataset_get(const nr_dataset *ds, int64_t first, int64_t n, float *out, int *labels,
                   nr_err *err)
{
    if (first < 0 || n < 0 || first > ds->r.count || n > ds->r.count - first)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "dataset",
                          "samples %lld..%lld: expected within 0..%lld", (long long)first,
                          (long long)(first + n - 1), (long long)ds->r.count - 1);
    for (int64_t k = 0; k < n; k++) {
        if (labels)
            labels[k] = ds->r.labels[first + k];
        if (out) {
            int rc = get_one(ds, first + k, out + k * ds->sample, err);
            if (rc)
                return rc;
        }
    }
    return 0;
}
