/* cmd_import.c -- `numrep import MODEL.onnx -o DIR [--name NAME]`: convert an
 * ONNX model (gen/onnx/onnx_import.c) into DIR/NAME.yaml + DIR/NAME.safetensors,
 * then load both back through the ordinary spec/model path so that what
 * was written is known to build. */
#include "cli.h"
#include "model.h"
#include "onnx_import.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage_text[] =
    "usage: numrep import MODEL.onnx -o DIR [--name NAME]\n"
    "\n"
    "Convert an ONNX model into a network spec DIR/NAME.yaml and its weights\n"
    "DIR/NAME.safetensors (NAME defaults to the last component of DIR).\n"
    "Operators: Conv, Gemm, MatMul, Add, Relu, Clip, MaxPool, AveragePool,\n"
    "GlobalAveragePool, BatchNormalization, Concat, Flatten, Reshape (as flatten),\n"
    "Pad, Slice, LRN, Softmax, Dropout, Identity, and constant shape arithmetic.\n"
    "\n"
    "exit status: 0 ok, 1 error, 2 usage error\n";

/* "specs/resnet20/" -> "resnet20" */
static void dir_basename(const char *dir, char *out, size_t n)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t b = len;
    while (b > 0 && dir[b - 1] != '/')
        b--;
    size_t k = len - b < n - 1 ? len - b : n - 1;
    memcpy(out, dir + b, k);
    out[k] = 0;
}

int cmd_import(int argc, char **argv)
{
    const char *model = NULL, *dir = NULL, *name_arg = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--name")) {
            if (i + 1 >= argc)
                return cli_usage("import", "%s needs an argument", a);
            if (!strcmp(a, "-o"))
                dir = argv[++i];
            else
                name_arg = argv[++i];
        } else if (a[0] == '-' && a[1])
            return cli_usage("import", "unknown option '%s'", a);
        else if (model)
            return cli_usage("import", "more than one model file");
        else
            model = a;
    }
    if (!model)
        return cli_usage("import", "missing the ONNX model file");
    if (!dir || !*dir)
        return cli_usage("import", "missing -o DIR");
    char name[NR_NAME_MAX];
    if (name_arg)
        snprintf(name, sizeof name, "%s", name_arg);
    else
        dir_basename(dir, name, sizeof name);
    if (!name[0] || !strcmp(name, ".") || !strcmp(name, ".."))
        return cli_usage("import", "cannot take a spec name from -o '%s'; give --name", dir);

    char wfile[NR_NAME_MAX + 16];
    snprintf(wfile, sizeof wfile, "%s.safetensors", name);
    nr_err err = {0};
    nr_onnx_import r;
    if (nr_onnx_import_file(model, name, wfile, &r, &err))
        return cli_error(&err);

    struct stat st;
    if (stat(dir, &st) && mkdir(dir, 0777) && errno != EEXIST) {
        nr_err_set(&err, NR_EIO, dir, 0, 0, "", "cannot create the directory: %s", strerror(errno));
        nr_onnx_import_free(&r);
        return cli_error(&err);
    }
    size_t plen = strlen(dir) + strlen(wfile) + 2;
    char *ypath = malloc(plen), *wpath = malloc(plen);
    if (!ypath || !wpath) {
        free(ypath);
        free(wpath);
        nr_onnx_import_free(&r);
        fprintf(stderr, "numrep import: out of memory\n");
        return 1;
    }
    snprintf(ypath, plen, "%s/%s.yaml", dir, name);
    snprintf(wpath, plen, "%s/%s", dir, wfile);

    int status = 0;
    FILE *f = NULL;
    if (r.ntensors && nr_safetensors_write_f32(wpath, r.tensors, r.ntensors, &err))
        status = cli_error(&err);
    if (!status && !(f = fopen(ypath, "w"))) {
        nr_err_set(&err, NR_EIO, ypath, 0, 0, "", "cannot create: %s", strerror(errno));
        status = cli_error(&err);
    }
    if (f && (fputs(r.spec, f) == EOF) + fclose(f)) {
        nr_err_set(&err, NR_EIO, ypath, 0, 0, "", "write failed: %s", strerror(errno));
        status = cli_error(&err);
    }
    if (!status) { /* read back: the spec must parse and bind its weights */
        nr_model *m = NULL;
        if (nr_model_load(ypath, "fp32", &m, &err)) {
            char msg[1024];
            nr_err_format(&err, msg, sizeof msg);
            fprintf(stderr, "numrep: the imported spec does not load (a bug in numrep import, "
                            "please report it): %s\n", msg);
            status = 1;
        }
        nr_model_free(m);
    }
    if (status) {
        remove(ypath);
        remove(wpath);
    } else
        printf("%s: %d layers (ONNX opset %lld); %s: %d tensors, %llu values\n", ypath,
               r.nlayers, (long long)r.opset, wpath, r.ntensors, (unsigned long long)r.nvalues);
    free(ypath);
    free(wpath);
    nr_onnx_import_free(&r);
    return status;
}
