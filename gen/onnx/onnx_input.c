/* onnx_input.c -- the input preprocessing an ONNX file does not record
 * (specs/README.md `input:` fields, `dataset:`): its checks and its lines
 * in the spec the importer writes (onnx_import.c), for `numrep import` and
 * numrep.import_onnx / numrep.from_torch (python/) alike. */
#include "onnx_import.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

void gen_onnx_input_init(nr_onnx_input *in)
{
    memset(in, 0, sizeof *in);
}

static int list_check(const char *field, int n, const double *v, int positive, nr_err *err)
{
    if (n < 0 || n > 3)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, field,
                          "expected 1 to 3 numbers (one per channel), got %d", n);
    for (int i = 0; i < n; i++)
        if (!isfinite(v[i]) || (positive && v[i] == 0))
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, field, "expected finite%s numbers, "
                              "got %g", positive ? " nonzero" : "", v[i]);
    return 0;
}

int gen_onnx_input_check(const nr_onnx_input *in, nr_err *err)
{
    if (in->divisor && !(isfinite(in->divisor) && in->divisor > 0))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "divisor",
                          "expected a positive number, got %g", in->divisor);
    int rc = list_check("mean", in->nmean, in->mean, 0, err);
    if (!rc)
        rc = list_check("std", in->nstd, in->std, 1, err);
    if (rc)
        return rc;
    const int dims[3] = {in->resize, in->crop_h, in->crop_w};
    const char *names[3] = {"resize", "crop", "crop"};
    for (int i = 0; i < 3; i++)
        if (dims[i] < 0 || dims[i] > 65535)
            return nr_err_set(err, NR_ERANGE, NULL, 0, 0, names[i],
                              "expected an integer 1..65535, got %d", dims[i]);
    if (!in->crop_h != !in->crop_w)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "crop", "expected both H and W");
    if (in->resize && !in->crop_h)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "resize",
                          "needs a crop (the network's H, W)");
    struct stat st;
    if (in->dataset && stat(in->dataset, &st))
        return nr_err_set(err, NR_EIO, in->dataset, 0, 0, "dataset", "%s", strerror(errno));
    return 0;
}

static void put_list(nr_strbuf *sb, const char *field, int n, const double *v)
{
    if (!n)
        return;
    nr_strbuf_add(sb, ", %s: %s", field, n > 1 ? "[" : "");
    for (int i = 0; i < n; i++)
        nr_strbuf_add(sb, "%s%.9g", i ? ", " : "", v[i]);
    nr_strbuf_add(sb, "%s", n > 1 ? "]" : "");
}

/* The spec's input line (fields as above) and the dataset line. */
int gen_onnx_input_yaml(const nr_onnx_input *in, const int shape[3], char *buf, size_t n,
                       nr_err *err)
{
    nr_strbuf out = nr_strbuf_on(buf, n);
    nr_strbuf_add(&out, "input: {shape: [%d, %d, %d]", shape[0], shape[1], shape[2]);
    if (in->divisor)
        nr_strbuf_add(&out, ", divisor: %.9g", in->divisor);
    put_list(&out, "mean", in->nmean, in->mean);
    put_list(&out, "std", in->nstd, in->std);
    if (in->resize)
        nr_strbuf_add(&out, ", resize: %d", in->resize);
    if (in->crop_h)
        nr_strbuf_add(&out, ", crop: [%d, %d]", in->crop_h, in->crop_w);
    nr_strbuf_add(&out, "}\n");
    if (in->dataset) { /* a single-quoted YAML scalar: ' is written '' */
        nr_strbuf_add(&out, "dataset: '");
        for (const char *p = in->dataset; *p; p++)
            if (*p == '\'')
                nr_strbuf_add(&out, "''");
            else
                nr_strbuf_add(&out, "%c", *p);
        nr_strbuf_add(&out, "'\n");
    }
    if (out.truncated)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "input",
                          "the preprocessing fields and dataset path are too long");
    return 0;
}

void gen_onnx_import_opts_init(nr_onnx_import_opts *o, const char *name,
                              const char *weights_file)
{
    memset(o, 0, sizeof *o);
    o->name = name;
    o->weights_file = weights_file;
    gen_onnx_input_init(&o->input);
}
