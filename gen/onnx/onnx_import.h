/* onnx_import.h -- ONNX model -> numrep network spec + float32 tensors.
 *
 * The ONNX file is hostile input: it is decoded with protobuf-c from
 * gen/onnx/onnx.proto, and every node is checked (operator, attributes, constant
 * inputs, shapes) before it becomes a spec layer.  Errors name the node as
 * `node K "NAME"` (K = 0-based position in graph.node) or the tensor / graph
 * input, e.g.
 *
 *   model.onnx: node 17 "Resize_3": unsupported operator Resize
 *
 * Supported operators and how each maps to the spec (specs/README.md) are
 * listed at the top of onnx_import.c. */
#ifndef NUMREP_ONNX_IMPORT_H
#define NUMREP_ONNX_IMPORT_H

#include <stddef.h>
#include <stdint.h>
#include "numrep.h"
#include "tensorio.h"

/* The spec's `input:` preprocessing fields (specs/README.md) and `dataset:`;
 * a field left at its init value is not written (the spec's default). */
typedef struct nr_onnx_input {
    double divisor;          /* x = pixel / divisor; 0: not written            */
    int nmean, nstd;         /* 0..3 values each (one, or one per channel)     */
    double mean[3], std[3];
    int resize;              /* bilinear resize of the shorter side; 0: none   */
    int crop_h, crop_w;      /* centre crop; 0: none (resize needs a crop)     */
    const char *dataset;     /* the spec's default data, made absolute; NULL   */
} nr_onnx_input;
/* onnx_input.c: */
void gen_onnx_input_init(nr_onnx_input *in);
/* The fields' own checks (divisor positive, at most 3 finite means/stds,
 * resize/crop 1..65535, resize only with crop, dataset exists): 0 or
 * -NR_ERANGE / -NR_EIO with the field named in err->where.  The spec parser
 * checks the rest (counts against the channels) when the spec is read back. */
int gen_onnx_input_check(const nr_onnx_input *in, nr_err *err);
/* The spec's `input: {shape: [C, H, W], <fields>}` line and, when
 * in->dataset is set, a `dataset: '...'` line (written as given), into buf
 * (NUL-terminated): 0, or -NR_ERANGE when they do not fit in n bytes. */
int gen_onnx_input_yaml(const nr_onnx_input *in, const int shape[3], char *buf, size_t n,
                       nr_err *err);

/* How the importer writes the spec (onnx_import.c). */
typedef struct nr_onnx_import_opts {
    const char *name;         /* the spec's `name:`                            */
    const char *weights_file; /* its `weights:`, relative to the spec's dir    */
    nr_onnx_input input;      /* its `input:` preprocessing and `dataset:`     */
} nr_onnx_import_opts;
void gen_onnx_import_opts_init(nr_onnx_import_opts *o, const char *name,
                              const char *weights_file);

typedef struct nr_onnx_import {
    char *spec;               /* the network spec, YAML text (malloc'ed)       */
    int nlayers;
    int ntensors;
    nr_tensor_out *tensors;   /* weights, PyTorch layouts; names, shapes and data
                               * are owned by this struct                      */
    uint64_t nvalues;         /* total number of weight values                 */
    int64_t opset;            /* the model's default-domain opset version      */
} nr_onnx_import;

/* Convert the ONNX model in buf[0..len).  path names the file in messages;
 * o says what the spec's header holds (name, weights file, input
 * preprocessing: checked here).  On failure *out is left empty. */
int gen_onnx_import_buffer(const void *buf, size_t len, const char *path,
                          const nr_onnx_import_opts *o, nr_onnx_import *out, nr_err *err);
/* Same, reading the file at path. */
int gen_onnx_import_file(const char *path, const nr_onnx_import_opts *o, nr_onnx_import *out,
                        nr_err *err);
void gen_onnx_import_free(nr_onnx_import *r);

#endif
