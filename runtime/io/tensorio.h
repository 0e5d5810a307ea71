/* tensorio.h -- tensor files: safetensors (weights) and NumPy .npy (inputs
 * and outputs).  Readers treat their input as hostile: every length,
 * offset and shape is checked before use, and an error names the file and
 * the field (tensor name, header key) with what was expected. */
#ifndef NUMREP_TENSORIO_H
#define NUMREP_TENSORIO_H

/* Table of contents of runtime/io/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   dataset.c      the dataset handle: picks a reader, batches, labels [dataset.h]
 *   ds_cifar.c     CIFAR-10 (raw images + labels, or the .bin batches) [dataset.h]
 *   ds_idx.c       IDX files (MNIST, Fashion-MNIST) [dataset.h]
 *   ds_images.c    a folder of JPEG/PNG images with a `file label` list [dataset.h]
 *   ds_tokens.c    token-id windows of a language model (.npy int32) [dataset.h]
 *   npy.c          NumPy .npy files in and out [tensorio.h]
 *   preprocess.c   declared input preprocessing: uint8 image -> float32 tensor [dataset.h]
 *   safetensors.c  safetensors weight files in and out [tensorio.h]
 *   yaml.c         YAML -> a tree that keeps line:col, and typed readers [yaml_doc.h]
 */

#include <stddef.h>
#include <stdint.h>
#include "numrep.h"

typedef enum { NR_DT_F64 = 0, NR_DT_F32, NR_DT_F16, NR_DT_BF16 } nr_dtype;

#define NR_TENSOR_MAXDIM 8

typedef struct nr_tensor_info {
    char name[128];
    nr_dtype dtype;
    int ndim;
    int64_t shape[NR_TENSOR_MAXDIM];
    uint64_t count;                 /* product of shape                    */
    uint64_t begin, end;            /* byte offsets in the data section    */
} nr_tensor_info;

/* ---------------------------------------------------------------- safetensors */

typedef struct nr_safetensors nr_safetensors;  /* opaque: file contents + index */

int nr_safetensors_open(const char *path, nr_safetensors **out, nr_err *err);
void nr_safetensors_close(nr_safetensors *st);
int nr_safetensors_count(const nr_safetensors *st);
const nr_tensor_info *nr_safetensors_info(const nr_safetensors *st, int i);
/* Index of a tensor by name, or -1. */
int nr_safetensors_find(const nr_safetensors *st, const char *name);
/* Convert tensor i to double (exact for every dtype). out has info->count. */
int nr_safetensors_read_f64(const nr_safetensors *st, int i, double *out, nr_err *err);
/* Mark tensor i as used; nr_safetensors_unused() names the first tensor
 * never read (so a model can reject extra tensors), or NULL. */
const char *nr_safetensors_unused(const nr_safetensors *st);

/* Write float32 tensors (names, shapes, data) as a safetensors file. */
typedef struct nr_tensor_out {
    const char *name;
    int ndim;
    const int64_t *shape;
    const float *data;
} nr_tensor_out;
int nr_safetensors_write_f32(const char *path, const nr_tensor_out *t, int n, nr_err *err);

/* ---------------------------------------------------------------- npy */

/* Read a .npy of dtype <f4 (also <f8, converted) in C order, 1 to 4 dims.
 * *data is malloc'ed; the caller frees it. */
int nr_npy_read_f32(const char *path, float **data, int64_t shape[4], int *ndim, nr_err *err);
/* The same for dtype <i4 (int32) only (token ids, ds_tokens.c). */
int nr_npy_read_i32(const char *path, int32_t **data, int64_t shape[4], int *ndim, nr_err *err);
int nr_npy_write_f32(const char *path, const float *data, const int64_t *shape, int ndim,
                     nr_err *err);

#endif
