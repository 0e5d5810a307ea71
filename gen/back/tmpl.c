/* tmpl.c -- fill the templates/ files (NAME.in): each @KEY@ (upper case, digits, '_') is
 * replaced by its value; a placeholder without a value is an error, so a
 * typo in a template cannot silently produce an empty string. */
#include "aot.h"
#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_key_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }

static char *read_all(const char *path, size_t *n, nr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        nr_err_set(err, NR_EIO, path, 0, 0, "template", "cannot open: %s (%s overrides the directory)",
                   strerror(errno), gen_res_var(GEN_RES_TEMPLATES));
        return NULL;
    }
    size_t cap = 8192, len = 0;
    char *s = malloc(cap + 1);
    while (s) {
        len += fread(s + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *t = realloc(s, 2 * cap + 1);
        if (!t) {
            free(s);
            s = NULL;
            break;
        }
        s = t;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!s) {
        nr_err_set(err, NR_ENOMEM, path, 0, 0, "template", "out of memory");
        return NULL;
    }
    if (bad) {
        free(s);
        nr_err_set(err, NR_EIO, path, 0, 0, "template", "read error");
        return NULL;
    }
    s[len] = 0;
    *n = len;
    return s;
}

int gen_tmpl_fill(const char *name, const gen_tmpl_var *vars, int nvars,
                  const char *out_path, nr_err *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    if (gen_res_find(GEN_RES_TEMPLATES, dir, sizeof dir, NULL, err))
        return -err->code;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return nr_err_set(err, NR_EIO, name, 0, 0, "template", "path too long");
    size_t n;
    char *s = read_all(path, &n, err);
    if (!s)
        return -err->code;
    FILE *f = fopen(out_path, "wb");
    if (!f) {
        free(s);
        return nr_err_set(err, NR_EIO, out_path, 0, 0, "", "cannot create: %s", strerror(errno));
    }
    int rc = 0, line = 1;
    for (size_t i = 0; i < n && !rc; i++) {
        if (s[i] == '\n')
            line++;
        size_t j = i + 1;
        while (s[i] == '@' && j < n && is_key_char(s[j]))
            j++;
        if (s[i] != '@' || j == i + 1 || j >= n || s[j] != '@') {
            fputc(s[i], f);
            continue;
        }
        int v = 0;
        while (v < nvars && (strlen(vars[v].key) != j - i - 1 ||
                             memcmp(vars[v].key, s + i + 1, j - i - 1)))
            v++;
        if (v == nvars)
            rc = nr_err_set(err, NR_EINTERNAL, path, line, 0, "template",
                            "placeholder @%.*s@ has no value", (int)(j - i - 1), s + i + 1);
        else
            fputs(vars[v].value, f);
        i = j;
    }
    free(s);
    if (fclose(f) && !rc)
        rc = nr_err_set(err, NR_EIO, out_path, 0, 0, "", "write failed: %s", strerror(errno));
    return rc;
}

/* A C identifier fragment from the network name (for the include guard). */
static void c_ident(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        out[k++] = (char)(((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
                           (*s >= '0' && *s <= '9'))
                              ? (*s >= 'a' && *s <= 'z' ? *s - 32 : *s)
                              : '_');
    out[k] = 0;
}

/* The precision in one line for the header's comment: the default formats. */
static void describe_precision(const nr_model *m, char *buf, size_t n)
{
    char fw[64], fa[64];
    nr_format_name(&m->prec->dflt.weights, fw, sizeof fw);
    nr_format_name(&m->prec->dflt.activations, fa, sizeof fa);
    snprintf(buf, n, "weights %s, activations %s%s", fw, fa,
             m->prec->noverrides ? ", with per-layer overrides" : "");
}

int gen_tmpl_model(const char *tmpl, const nr_model *m, const gen_model_sizes *s,
                   const char *target, const char *out_path, nr_err *err)
{
    char num[12][32], ident[NR_NAME_MAX], prec[256], name[NR_NAME_MAX];
    const uint64_t vals[] = {s->input, s->output, s->arena, s->weights};
    for (int i = 0; i < 4; i++)
        snprintf(num[i], sizeof num[i], "%lluu", (unsigned long long)vals[i]);
    for (int i = 0; i < 3; i++) {
        snprintf(num[4 + i], sizeof num[4 + i], "%d", s->in_shape[i]);
        snprintf(num[7 + i], sizeof num[7 + i], "%d", s->out_shape[i]);
    }
    c_ident(m->spec->name, ident, sizeof ident);
    /* The name goes into a C comment: keep it printable and comment-safe. */
    snprintf(name, sizeof name, "%s", m->spec->name);
    for (char *p = name; *p; p++)
        if (*p < 32 || *p > 126 || (*p == '/' && p[1] == '*') || (*p == '*' && p[1] == '/'))
            *p = '_';
    describe_precision(m, prec, sizeof prec);
    const gen_tmpl_var vars[] = {
        {"NAME", name},          {"IDENT", ident},        {"TARGET", target},
        {"PRECISION", prec},     {"INPUT_SIZE", num[0]},  {"OUTPUT_SIZE", num[1]},
        {"ARENA_SIZE", num[2]},  {"WEIGHTS_SIZE", num[3]}, {"IN_C", num[4]},
        {"IN_H", num[5]},        {"IN_W", num[6]},        {"OUT_C", num[7]},
        {"OUT_H", num[8]},       {"OUT_W", num[9]},
    };
    return gen_tmpl_fill(tmpl, vars, (int)(sizeof vars / sizeof vars[0]), out_path, err);
}
