/* cmd_import_raw.c -- `numrep import-raw DIR -o FILE.safetensors`: convert a
 * directory of raw little-endian float32 tensors described by
 * DIR/manifest.txt into one safetensors file.
 *
 * manifest.txt: one tensor per line, `name f32 shape file`, fields separated
 * by blanks, shape written AxBxC (one integer for a vector); blank lines and
 * lines starting with '#' are ignored.  The file is hostile input: every
 * error names the manifest line and what was expected. */
#include "cli.h"
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_LINE 4096

typedef struct entry {
    char name[128];
    int ndim;
    int64_t shape[NR_TENSOR_MAXDIM];
    uint64_t count;
    float *data;
    int line;
} entry;

typedef struct manifest {
    entry *e;
    int n, cap;
} manifest;

static void manifest_free(manifest *m)
{
    for (int i = 0; i < m->n; i++)
        free(m->e[i].data);
    free(m->e);
}

/* "AxBxC" -> shape; each dimension a decimal integer >= 0. */
static int parse_shape(const char *s, entry *e, const char *mpath, int line, nr_err *err)
{
    e->ndim = 0;
    e->count = 1;
    const char *p = s;
    for (;;) {
        if (e->ndim == NR_TENSOR_MAXDIM)
            return nr_err_set(err, NR_ESYNTAX, mpath, line, 0, "shape",
                              "\"%s\" has more than %d dimensions", s, NR_TENSOR_MAXDIM);
        if (*p < '0' || *p > '9')
            return nr_err_set(err, NR_ESYNTAX, mpath, line, 0, "shape",
                              "\"%s\" is not a shape (expected integers joined by 'x', e.g. "
                              "16x3x3x3)", s);
        int64_t d = 0;
        while (*p >= '0' && *p <= '9') {
            /* cap the element count so that count * 4 bytes fits in memory sizes */
            if (d > (INT64_MAX / 16 - (*p - '0')) / 10)
                return nr_err_set(err, NR_ERANGE, mpath, line, 0, "shape",
                                  "dimension in \"%s\" is too large", s);
            d = d * 10 + (*p++ - '0');
        }
        if (d && e->count > (uint64_t)INT64_MAX / 16 / (uint64_t)d)
            return nr_err_set(err, NR_ERANGE, mpath, line, 0, "shape",
                              "\"%s\" has too many elements", s);
        e->count *= (uint64_t)d;
        e->shape[e->ndim++] = d;
        if (!*p)
            return 0;
        if (*p != 'x')
            return nr_err_set(err, NR_ESYNTAX, mpath, line, 0, "shape",
                              "\"%s\" is not a shape (expected integers joined by 'x', e.g. "
                              "16x3x3x3)", s);
        p++;
    }
}

/* Read DIR/file as count little-endian float32 values. */
static int read_raw(const char *dir, const char *file, entry *e, const char *mpath,
                    nr_err *err)
{
    char where[160], path[4096];
    snprintf(where, sizeof where, "tensor %s", e->name);
    if (file[0] == '/' || !strcmp(file, "..") || !strncmp(file, "../", 3) ||
        strstr(file, "/../") || (strlen(file) >= 3 && !strcmp(file + strlen(file) - 3, "/..")))
        return nr_err_set(err, NR_ERANGE, mpath, e->line, 0, where,
                          "file \"%s\" must be a relative path inside the directory", file);
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return nr_err_set(err, NR_ERANGE, mpath, e->line, 0, where, "path too long");
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, mpath, e->line, 0, where, "cannot open %s: %s", path,
                          strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return nr_err_set(err, NR_EIO, mpath, e->line, 0, where, "%s is not a regular file",
                          path);
    }
    if ((uint64_t)sb.st_size != e->count * 4) {
        fclose(f);
        return nr_err_set(err, NR_ESHAPE, mpath, e->line, 0, where,
                          "%s has %lld bytes, but shape needs %llu (%llu float32 values)", path,
                          (long long)sb.st_size, (unsigned long long)(e->count * 4),
                          (unsigned long long)e->count);
    }
    unsigned char *raw = malloc(e->count ? (size_t)e->count * 4 : 1);
    e->data = malloc(e->count ? (size_t)e->count * sizeof(float) : 1);
    if (!raw || !e->data) {
        free(raw);
        fclose(f);
        return nr_err_set(err, NR_ENOMEM, mpath, e->line, 0, where, "out of memory");
    }
    size_t got = fread(raw, 1, (size_t)e->count * 4, f);
    fclose(f);
    if (got != e->count * 4) {
        free(raw);
        return nr_err_set(err, NR_EIO, mpath, e->line, 0, where, "read error on %s", path);
    }
    for (uint64_t k = 0; k < e->count; k++) {
        uint32_t u = (uint32_t)raw[4 * k] | (uint32_t)raw[4 * k + 1] << 8 |
                     (uint32_t)raw[4 * k + 2] << 16 | (uint32_t)raw[4 * k + 3] << 24;
        memcpy(&e->data[k], &u, 4);
    }
    free(raw);
    return 0;
}

/* One non-comment manifest line, already split into fields. */
static int add_entry(manifest *m, char **fld, int nf, const char *dir, const char *mpath,
                     int line, nr_err *err)
{
    if (nf != 4)
        return nr_err_set(err, NR_ESYNTAX, mpath, line, 0, NULL,
                          "%d fields, expected 4: name f32 shape file", nf);
    if (strlen(fld[0]) >= sizeof m->e[0].name || !strcmp(fld[0], "__metadata__"))
        return nr_err_set(err, NR_ERANGE, mpath, line, 0, "name",
                          "tensor name must be at most %zu bytes and not __metadata__",
                          sizeof m->e[0].name - 1);
    char where[160];
    snprintf(where, sizeof where, "tensor %s", fld[0]);
    if (strcmp(fld[1], "f32"))
        return nr_err_set(err, NR_EUNSUP, mpath, line, 0, where,
                          "dtype \"%s\" is not supported (expected f32)", fld[1]);
    for (int i = 0; i < m->n; i++)
        if (!strcmp(m->e[i].name, fld[0]))
            return nr_err_set(err, NR_ESYNTAX, mpath, line, 0, where,
                              "duplicate tensor name (first on line %d)", m->e[i].line);
    if (m->n == m->cap) {
        int cap = m->cap ? 2 * m->cap : 64;
        void *ne = realloc(m->e, (size_t)cap * sizeof *m->e);
        if (!ne)
            return nr_err_set(err, NR_ENOMEM, mpath, line, 0, NULL, "out of memory");
        m->e = ne;
        m->cap = cap;
    }
    entry *e = &m->e[m->n];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, "%s", fld[0]);
    e->line = line;
    if (parse_shape(fld[2], e, mpath, line, err))
        return -1;
    m->n++;   /* counted now so that manifest_free releases e->data */
    return read_raw(dir, fld[3], e, mpath, err);
}

static int read_manifest(const char *dir, manifest *m, nr_err *err)
{
    char mpath[4096], buf[MAX_LINE + 2];
    if ((size_t)snprintf(mpath, sizeof mpath, "%s/manifest.txt", dir) >= sizeof mpath)
        return nr_err_set(err, NR_ERANGE, dir, 0, 0, NULL, "directory name too long");
    FILE *f = fopen(mpath, "r");
    if (!f)
        return nr_err_set(err, NR_EIO, mpath, 0, 0, NULL, "cannot open: %s", strerror(errno));
    int line = 0, rc = 0;
    for (;;) {
        /* getc, not fgets: a NUL byte must be seen, not end the line early */
        size_t len = 0;
        int c, nul = 0;
        while ((c = getc(f)) != EOF && c != '\n') {
            if (!c)
                nul = 1;
            if (len < MAX_LINE + 1)
                buf[len++] = (char)c;
        }
        if (c == EOF && len == 0)
            break;
        buf[len] = 0;
        line++;
        if (len > MAX_LINE) {
            rc = nr_err_set(err, NR_ESYNTAX, mpath, line, 0, NULL,
                            "line longer than %d bytes", MAX_LINE);
            break;
        }
        if (nul) {
            rc = nr_err_set(err, NR_ESYNTAX, mpath, line, 0, NULL, "NUL byte in the line");
            break;
        }
        if (len && buf[len - 1] == '\r')
            buf[--len] = 0;
        char *fld[5], *save = NULL;
        int nf = 0;
        for (char *t = strtok_r(buf, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
            if (nf == 0 && t[0] == '#')
                break;
            if (nf < 5)
                fld[nf] = t;
            nf++;
        }
        if (!nf)
            continue;
        if ((rc = add_entry(m, fld, nf, dir, mpath, line, err)))
            break;
    }
    if (!rc && ferror(f))
        rc = nr_err_set(err, NR_EIO, mpath, 0, 0, NULL, "read error");
    fclose(f);
    if (!rc && !m->n)
        rc = nr_err_set(err, NR_ESYNTAX, mpath, 0, 0, NULL,
                        "no tensors (expected lines `name f32 shape file`)");
    return rc;
}

typedef struct import_raw_opts {
    const char *out;
} import_raw_opts;

static int extra(const char *cmd, const char *first, const char *arg)
{
    return cli_usage(cmd, "more than one directory ('%s' and '%s')", first, arg);
}

static const gen_opt import_raw_table[] = {
    {.shrt = 'o', .kind = GEN_OPT_STR, .once = 1, .off = offsetof(import_raw_opts, out),
     .need = "a file name"},
    {0}};

static const cli_cmd import_raw_cmd = {
    .name = "import-raw",
    .opts = import_raw_table,
    .usage = "usage: numrep import-raw DIR -o FILE.safetensors\n\n"
             "Convert DIR/manifest.txt and the raw little-endian float32 files it lists\n"
             "into one safetensors file (tensors in manifest order, dtype F32).\n"
             "manifest.txt: one line per tensor, `name f32 shape file`, shape as AxBxC;\n"
             "blank lines and lines starting with '#' are ignored.\n",
    .usage_end = "",
    .quote = '\'',
    .npos = 1,
    .extra = extra,
};

int cmd_import_raw(int argc, char **argv)
{
    const char *dir = NULL;
    import_raw_opts o = {0};
    int rc = cli_opts_parse(&import_raw_cmd, argc, argv, &o, &dir);
    if (rc)
        return rc < 0 ? 0 : rc;
    const char *out = o.out;
    if (!dir)
        return cli_usage("import-raw", "missing the input directory");
    if (!out)
        return cli_usage("import-raw", "missing -o FILE.safetensors");

    nr_err err = {0};
    manifest m = {0};
    nr_tensor_out *t = NULL;
    int status = 1;
    if (read_manifest(dir, &m, &err))
        goto done;
    t = calloc((size_t)m.n, sizeof *t);
    if (!t) {
        nr_err_set(&err, NR_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto done;
    }
    uint64_t total = 0;
    for (int i = 0; i < m.n; i++) {
        t[i] = (nr_tensor_out){m.e[i].name, m.e[i].ndim, m.e[i].shape, m.e[i].data};
        total += m.e[i].count;
    }
    if (nr_safetensors_write_f32(out, t, m.n, &err))
        goto done;
    printf("%s: %d tensors, %llu values\n", out, m.n, (unsigned long long)total);
    status = 0;
done:
    if (status)
        cli_error(&err);
    free(t);
    manifest_free(&m);
    return status;
}
