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
 * name is the spec's `name:`, weights_file its `weights:` (relative to the
 * spec's directory).  On failure *out is left empty. */
int nr_onnx_import_buffer(const void *buf, size_t len, const char *path, const char *name,
                          const char *weights_file, nr_onnx_import *out, nr_err *err);
/* Same, reading the file at path. */
int nr_onnx_import_file(const char *path, const char *name, const char *weights_file,
                        nr_onnx_import *out, nr_err *err);
void nr_onnx_import_free(nr_onnx_import *r);

#endif
