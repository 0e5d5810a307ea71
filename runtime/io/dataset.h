/* dataset.h -- labeled test sets for `numrep eval`: readers for IDX (MNIST,
 * Fashion-MNIST), CIFAR-10 (raw NHWC bytes, or the official binary batches)
 * and folders of JPEG/PNG images with a `file label` list, plus the declared
 * input preprocessing (resize, centre crop, scale, per-channel mean/std) that
 * turns a stored uint8 image into the float32 tensor a model takes.
 *
 * Readers treat files as hostile: sizes, counts and labels are checked at
 * open, and every error names the file and what was expected.  Pixels are
 * read or decoded on demand (1000 ImageNet JPEGs are never held decoded at
 * once); after open a dataset is immutable, so nr_dataset_get() may be called
 * from several threads at once. */
#ifndef NUMREP_DATASET_H
#define NUMREP_DATASET_H

#include <stdint.h>
#include "numrep.h"

/* ---------------------------------------------------------------- kinds */

typedef enum {
    NR_DS_AUTO = 0,   /* decide from the path (see nr_dataset_open)          */
    NR_DS_IDX,        /* IDX images + labels, gzip or plain (MNIST)          */
    NR_DS_CIFAR_RAW,  /* test_images.u8 (N,32,32,3) + test_labels.u8          */
    NR_DS_CIFAR_BIN,  /* official CIFAR-10 batch: records of label + 3072 CHW */
    NR_DS_IMAGES      /* folder of JPEG/PNG + a `file label` list            */
} nr_ds_kind;

/* "auto", "idx", "cifar-raw", "cifar-bin", "images". */
const char *nr_dataset_kind_name(nr_ds_kind k);
int nr_dataset_kind_parse(const char *s, nr_ds_kind *out, nr_err *err);

/* ---------------------------------------------------------------- preprocessing
 * Applied to each stored image (uint8, H x W x C) in this order:
 *   1. resize so the shorter side is resize_short, the other side
 *      round(side * resize_short / short) (round half to even), or (Caffe's
 *      convention) to exactly resize_h x resize_w ignoring the aspect ratio,
 *      with PIL's bilinear filter (a triangle widened by the scale when
 *      shrinking, in PIL's 22-bit fixed point, 8-bit result after each
 *      pass) -- the same bytes as PIL 9.4 Image.resize(size, BILINEAR);
 *   2. centre crop crop_h x crop_w at floor((W-cw)/2), floor((H-ch)/2);
 *   3. channels: 1 -> 3 copies the gray value (PIL convert('RGB')); with
 *      bgr set, output channel c of 3 is stored channel 2 - c (Caffe);
 *   4. x = ((float)pixel / divisor - mean[c]) / std[c], each step one
 *      float32 operation, as torchvision's ToTensor + Normalize compute it
 *      (x = pixel/127.5 - 1 is divisor 127.5, mean 1, std 1); c counts
 *      output channels (after the reversal);
 *   5. layout CHW (default) or HWC.
 * Step 1 and 2 are skipped when their sizes are 0. */

typedef enum { NR_LAYOUT_CHW = 0, NR_LAYOUT_HWC = 1 } nr_layout;

typedef struct nr_preprocess {
    nr_layout layout;
    int channels;          /* output channels: 0 = as stored, 1 or 3        */
    int resize_short;      /* 0: no resize                                  */
    int resize_h, resize_w;/* exact size (aspect ignored); 0: none; not
                              together with resize_short                   */
    int bgr;               /* 1: reverse R, G, B to B, G, R (3 channels)    */
    int crop_h, crop_w;    /* 0: no crop                                    */
    float divisor;         /* pixel / divisor                               */
    float mean[3], std[3]; /* per output channel (channel 0 for 1-channel)  */
} nr_preprocess;

/* pixel/255, mean 0, std 1, CHW, no resize or crop, channels as stored. */
void nr_preprocess_init(nr_preprocess *p);
/* Check the description (positive sizes, finite nonzero std, ...). */
int nr_preprocess_check(const nr_preprocess *p, nr_err *err);
/* The output shape (C, H, W) for a stored image h x w x c; fails when the
 * crop does not fit or the channel conversion is not supported.  `file`
 * names the image in the error. */
int nr_preprocess_shape(const nr_preprocess *p, int h, int w, int c, int shape[3],
                        const char *file, nr_err *err);
/* Preprocess one image (uint8, h x w x c, row-major) into out, which holds
 * shape[0]*shape[1]*shape[2] floats as returned by nr_preprocess_shape. */
int nr_preprocess_apply(const nr_preprocess *p, const uint8_t *px, int h, int w, int c,
                        float *out, const char *file, nr_err *err);
/* Step 1 and 2 only: resize (PIL bilinear) and centre crop to uint8.
 * out holds oh*ow*c bytes; oh, ow from nr_preprocess_shape. */
int nr_preprocess_resize_crop(const nr_preprocess *p, const uint8_t *px, int h, int w, int c,
                              uint8_t *out, int oh, int ow, nr_err *err);

/* ---------------------------------------------------------------- datasets */

typedef struct nr_dataset nr_dataset;  /* opaque */

typedef struct nr_dataset_opts {
    nr_ds_kind kind;        /* NR_DS_AUTO: detect from the path            */
    int num_classes;        /* labels must be < this; 0: 10 for idx/cifar,
                               no limit for images (only >= 0)             */
    nr_preprocess pp;
} nr_dataset_opts;

/* Defaults: auto kind, default classes, nr_preprocess_init(). */
void nr_dataset_opts_init(nr_dataset_opts *o);

/* Open a dataset.  With NR_DS_AUTO, path is
 *   a directory holding test_images.u8 + test_labels.u8     -> cifar-raw
 *   a directory holding labels.txt                          -> images
 *   a directory holding test_batch.bin                      -> cifar-bin
 *   a directory holding one *images-idx3-ubyte[.gz] +
 *     *labels-idx1-ubyte[.gz] pair (t10k- preferred)        -> idx
 *   a file *images-idx3-ubyte[.gz] (labels file next to it,
 *     "images-idx3" replaced by "labels-idx1")              -> idx
 *   a file *.bin                                            -> cifar-bin
 *   a file *.txt (the list; images next to it)              -> images
 * For images, listed names are looked up in <dir>/images/ when that
 * directory exists, else in <dir>/.  *out is NULL on failure. */
int nr_dataset_open(const char *path, const nr_dataset_opts *o, nr_dataset **out, nr_err *err);
void nr_dataset_close(nr_dataset *ds);

nr_ds_kind nr_dataset_kind(const nr_dataset *ds);
int64_t nr_dataset_count(const nr_dataset *ds);
/* Preprocessed sample shape: (C, H, W) for CHW, (H, W, C) for HWC. */
void nr_dataset_shape(const nr_dataset *ds, int shape[3]);
/* Floats per sample (product of the shape). */
int64_t nr_dataset_sample_size(const nr_dataset *ds);
/* Number of classes labels are checked against (0: unchecked). */
int nr_dataset_num_classes(const nr_dataset *ds);

/* Samples first .. first+n-1: out gets n * sample_size floats (may be NULL
 * to read labels only, which never decodes an image), labels gets n ints
 * (may be NULL).  Thread-safe. */
int nr_dataset_get(const nr_dataset *ds, int64_t first, int64_t n, float *out, int *labels,
                   nr_err *err);

/* ---------------------------------------------------------------- readers
 * Internal interface between dataset.c and ds_*.c (not for other callers).
 * A reader yields stored images as uint8 h x w x c plus a label. */

typedef struct nr_ds_image {
    int h, w, c;
    uint8_t *px;            /* malloc'ed by the reader, freed by the caller */
} nr_ds_image;

typedef struct nr_ds_reader {
    void *impl;
    int64_t count;
    int h, w, c;            /* stored shape, or 0,0,c when sizes vary       */
    const int *labels;      /* count labels, owned by impl                  */
    /* Read image i (0 <= i < count); errors name the file. */
    int (*read)(const void *impl, int64_t i, nr_ds_image *img, nr_err *err);
    /* The file holding image i, for messages about it. */
    const char *(*name)(const void *impl, int64_t i);
    void (*close)(void *impl);
} nr_ds_reader;

/* ds_idx.c: images file (N,H,W ubyte) and labels file (N ubyte). */
int nr_ds_idx_open(const char *images, const char *labels, int num_classes, nr_ds_reader *r,
                   nr_err *err);
/* ds_cifar.c */
int nr_ds_cifar_raw_open(const char *images, const char *labels, int num_classes,
                         nr_ds_reader *r, nr_err *err);
int nr_ds_cifar_bin_open(const char *path, int num_classes, nr_ds_reader *r, nr_err *err);
/* ds_images.c: list file and the directory the names are relative to;
 * num_classes 0 = only check labels >= 0. */
int nr_ds_images_open(const char *list, const char *dir, int num_classes, nr_ds_reader *r,
                      nr_err *err);
/* Decode one JPEG or PNG file to RGB (grayscale replicated, alpha dropped,
 * CMYK converted as PIL does). */
int nr_ds_images_decode(const char *path, nr_ds_image *img, nr_err *err);

/* ---------------------------------------------------------------- token ids
 * ds_tokens.c: language-model data ([lm-data]): .npy int32 [N, T+1], N
 * windows of T+1 token ids (the model reads ids 0..T-1, predicts 1..T). */
typedef struct nr_tokens {
    int64_t n;       /* windows                                            */
    int len;         /* ids per window (T + 1)                             */
    int32_t *ids;    /* [n][len]                                           */
    int vocab_used;  /* largest id + 1                                     */
} nr_tokens;
/* Read and check path; every id in [0, vocab) (vocab <= 0: any id >= 0). */
int nr_ds_tokens_load(const char *path, int vocab, nr_tokens **out, nr_err *err);
void nr_ds_tokens_free(nr_tokens *t);

#endif
