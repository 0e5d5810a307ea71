/* onnx_write.c -- an ONNX model into DIR/NAME.yaml + DIR/NAME.safetensors:
 * nr_onnx_import_file, then the preprocessing fields spliced into the
 * `input:` line the importer writes, the files written, and the spec loaded
 * back so that what was written is known to build.  `numrep import` and
 * numrep.import_onnx (python/) both call nr_onnx_import_dir. */
#include "onnx_write.h"

#include "model.h"
#include "onnx_import.h"
#include "tensorio.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void nr_onnx_input_init(nr_onnx_input *in)
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

int nr_onnx_input_check(const nr_onnx_input *in, nr_err *err)
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

/* Put the fields into the spec's `input: {shape: [C, H, W]}` line (the one
 * line onnx_import.c writes for the input) and add `dataset: '...'`. */
static int spec_add_input(char **spec, const nr_onnx_input *in, const char *dataset,
                          nr_err *err)
{
    char fields[1024];
    nr_strbuf sb = nr_strbuf_on(fields, sizeof fields);
    if (in->divisor)
        nr_strbuf_add(&sb, ", divisor: %.9g", in->divisor);
    put_list(&sb, "mean", in->nmean, in->mean);
    put_list(&sb, "std", in->nstd, in->std);
    if (in->resize)
        nr_strbuf_add(&sb, ", resize: %d", in->resize);
    if (in->crop_h)
        nr_strbuf_add(&sb, ", crop: [%d, %d]", in->crop_h, in->crop_w);
    if (sb.truncated)
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "input", "preprocessing fields too long");
    if (!sb.len && !dataset)
        return 0;
    const char *key = "\ninput: {shape: [";
    char *at = strstr(*spec, key);
    char *close = at ? strstr(at + strlen(key), "]}\n") : NULL;
    size_t head = close ? (size_t)(close - *spec) + 1 : 0, len = strlen(*spec);
    size_t cap = len + sb.len + (dataset ? 2 * strlen(dataset) + 16 : 0) + 1;
    char *t = close ? malloc(cap) : NULL;
    if (!t)
        return nr_err_set(err, close ? NR_ENOMEM : NR_EINTERNAL, NULL, 0, 0, "import",
                          "cannot add the preprocessing to the spec (%s)",
                          close ? "out of memory" : "no `input:` line");
    nr_strbuf out = nr_strbuf_on(t, cap);
    nr_strbuf_add(&out, "%.*s%s}\n", (int)head, *spec, fields);
    if (dataset) { /* a single-quoted YAML scalar: ' is written '' */
        nr_strbuf_add(&out, "dataset: '");
        for (const char *p = dataset; *p; p++)
            if (*p == '\'')
                nr_strbuf_add(&out, "''");
            else
                nr_strbuf_add(&out, "%c", *p);
        nr_strbuf_add(&out, "'\n");
    }
    nr_strbuf_add(&out, "%s", close + 3); /* after "]}\n" */
    free(*spec);
    *spec = t;
    return 0;
}

/* "specs/resnet20/" -> "resnet20" */
static void dir_basename(const char *dir, char *out, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    snprintf(out, n, "%.*s", (int)(len - b), dir + b);
}

static int write_files(const nr_onnx_import *r, const char *dir, nr_onnx_written *w,
                       nr_err *err)
{
    struct stat st;
    if (stat(dir, &st) && mkdir(dir, 0777) && errno != EEXIST)
        return nr_err_set(err, NR_EIO, dir, 0, 0, "", "cannot create the directory: %s",
                          strerror(errno));
    if (r->ntensors && nr_safetensors_write_f32(w->weights, r->tensors, r->ntensors, err))
        return -NR_EIO;
    FILE *f = fopen(w->yaml, "w");
    if (!f)
        return nr_err_set(err, NR_EIO, w->yaml, 0, 0, "", "cannot create: %s", strerror(errno));
    if ((fputs(r->spec, f) == EOF) + fclose(f))
        return nr_err_set(err, NR_EIO, w->yaml, 0, 0, "", "write failed: %s", strerror(errno));
    /* read back: the spec must parse and bind its weights */
    nr_model *m = NULL;
    int rc = nr_model_load(w->yaml, "fp32", &m, err);
    nr_model_free(m);
    if (rc) {
        char msg[1024];
        nr_err_format(err, msg, sizeof msg);
        nr_err_clear(err);
        return nr_err_set(err, -rc, w->yaml, 0, 0, "import",
                          "the written spec does not load: %s", msg);
    }
    return 0;
}

int nr_onnx_import_dir(const char *model, const char *dir, const char *name,
                       const nr_onnx_input *in, nr_onnx_written *out, nr_err *err)
{
    nr_onnx_input none;
    nr_onnx_input_init(&none);
    if (!in)
        in = &none;
    memset(out, 0, sizeof *out);
    char nm[NR_NAME_MAX], dataset[PATH_MAX];
    if (name)
        snprintf(nm, sizeof nm, "%s", name);
    else
        dir_basename(dir, nm, sizeof nm);
    if (!nm[0] || !strcmp(nm, ".") || !strcmp(nm, "..") || strchr(nm, '/'))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "name",
                          "cannot take a spec name from \"%s\"; give a name", dir);
    int rc = nr_onnx_input_check(in, err);
    if (rc)
        return rc;
    if (in->dataset && !realpath(in->dataset, dataset))
        return nr_err_set(err, NR_EIO, in->dataset, 0, 0, "dataset", "%s", strerror(errno));
    if ((size_t)snprintf(out->yaml, sizeof out->yaml, "%s/%s.yaml", dir, nm) >= sizeof out->yaml ||
        (size_t)snprintf(out->weights, sizeof out->weights, "%s/%s.safetensors", dir, nm) >=
            sizeof out->weights)
        return nr_err_set(err, NR_ERANGE, dir, 0, 0, "", "path too long");
    nr_onnx_import r;
    rc = nr_onnx_import_file(model, nm, strrchr(out->weights, '/') + 1, &r, err);
    if (rc)
        return rc;
    rc = spec_add_input(&r.spec, in, in->dataset ? dataset : NULL, err);
    if (!rc && (rc = write_files(&r, dir, out, err))) {
        remove(out->yaml);
        remove(out->weights);
    }
    out->nlayers = r.nlayers, out->ntensors = r.ntensors;
    out->nvalues = r.nvalues, out->opset = r.opset;
    nr_onnx_import_free(&r);
    return rc;
}
