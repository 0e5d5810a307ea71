/* yaml.c -- libyaml events -> a tree of nr_yaml_node that keeps line:col,
 * plus typed readers whose errors point at the text.  The input is
 * hostile: nesting depth is bounded, aliases are refused (no expansion
 * bombs), duplicate keys and multiple documents are errors. */
#include "yaml_doc.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_DEPTH 64

/* ---------------------------------------------------------------- tree */

static void node_free(nr_yaml_node *n)
{
    if (!n)
        return;
    for (int i = 0; i < n->n; i++) {
        node_free(n->items[i]);
        if (n->keys)
            node_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
    free(n);
}

void nr_yaml_free(nr_yaml_doc *d)
{
    if (!d)
        return;
    node_free(d->root);
    free(d);
}

static nr_yaml_node *node_new(nr_yaml_kind kind, const yaml_mark_t *m)
{
    nr_yaml_node *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->kind = kind;
    n->line = (int)m->line + 1;
    n->col = (int)m->column + 1;
    return n;
}

/* Append item (and key for mappings); 0 or -1 on allocation failure. */
static int node_push(nr_yaml_node *n, nr_yaml_node *key, nr_yaml_node *item, int *cap)
{
    if (n->n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        nr_yaml_node **it = realloc(n->items, (size_t)nc * sizeof *it);
        if (!it)
            return -1;
        n->items = it;
        if (n->kind == NR_YAML_MAP) {
            nr_yaml_node **k = realloc(n->keys, (size_t)nc * sizeof *k);
            if (!k)
                return -1;
            n->keys = k;
        }
        *cap = nc;
    }
    if (n->kind == NR_YAML_MAP)
        n->keys[n->n] = key;
    n->items[n->n++] = item;
    return 0;
}

/* ---------------------------------------------------------------- events */

typedef struct {
    yaml_parser_t p;
    const char *path;
    nr_err *err;
} reader;

static int next_event(reader *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->p, ev))
        return 0;
    const char *problem = r->p.problem ? r->p.problem : "unreadable input";
    yaml_mark_t m = r->p.problem_mark;
    if (r->p.context)
        return nr_err_set(r->err, NR_ESYNTAX, r->path, (int)m.line + 1, (int)m.column + 1, "",
                          "malformed YAML: %s %s", r->p.context, problem);
    return nr_err_set(r->err, NR_ESYNTAX, r->path, (int)m.line + 1, (int)m.column + 1, "",
                      "malformed YAML: %s", problem);
}

static int at_mark(reader *r, const yaml_mark_t *m, int code, const char *fmt, const char *a)
{
    return nr_err_set(r->err, code, r->path, (int)m->line + 1, (int)m->column + 1, "", fmt, a);
}

static int build(reader *r, yaml_event_t *ev, int depth, nr_yaml_node **out);

/* Children of a sequence or mapping up to its end event. */
static int build_children(reader *r, nr_yaml_node *n, int depth)
{
    int cap = 0;
    for (;;) {
        yaml_event_t ev;
        int rc = next_event(r, &ev);
        if (rc)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        nr_yaml_node *key = NULL, *item = NULL;
        if (n->kind == NR_YAML_MAP) {
            rc = build(r, &ev, depth + 1, &key);
            if (rc)
                return rc;
            if (key->kind != NR_YAML_SCALAR) {
                rc = nr_err_set(r->err, NR_ESYNTAX, r->path, key->line, key->col, "",
                                "expected a plain key, got %s",
                                key->kind == NR_YAML_MAP ? "a mapping" : "a list");
                node_free(key);
                return rc;
            }
            for (int i = 0; i < n->n; i++)
                if (!strcmp(n->keys[i]->text, key->text)) {
                    rc = nr_err_set(r->err, NR_ESYNTAX, r->path, key->line, key->col,
                                    key->text, "duplicate key (first at %d:%d)",
                                    n->keys[i]->line, n->keys[i]->col);
                    node_free(key);
                    return rc;
                }
            rc = next_event(r, &ev);
            if (rc) {
                node_free(key);
                return rc;
            }
        }
        rc = build(r, &ev, depth + 1, &item);
        if (rc == 0 && node_push(n, key, item, &cap))
            rc = nr_err_set(r->err, NR_ENOMEM, r->path, item->line, item->col, "",
                            "out of memory");
        if (rc) {
            node_free(key);
            node_free(item);
            return rc;
        }
    }
}

/* Build the node that starts with *ev (consumed). */
static int build(reader *r, yaml_event_t *ev, int depth, nr_yaml_node **out)
{
    int rc = 0;
    nr_yaml_node *n = NULL;
    *out = NULL;
    if (depth > MAX_DEPTH) {
        rc = at_mark(r, &ev->start_mark, NR_ERANGE, "nesting deeper than %s levels", "64");
        goto done;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_new(NR_YAML_SCALAR, &ev->start_mark);
        if (!n || !(n->text = malloc(ev->data.scalar.length + 1)))
            goto nomem;
        memcpy(n->text, ev->data.scalar.value, ev->data.scalar.length);
        n->text[ev->data.scalar.length] = 0;
        if (strlen(n->text) != ev->data.scalar.length) {
            rc = nr_err_set(r->err, NR_ESYNTAX, r->path, n->line, n->col, "",
                            "NUL character in a scalar");
            goto done;
        }
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        n = node_new(ev->type == YAML_SEQUENCE_START_EVENT ? NR_YAML_SEQ : NR_YAML_MAP,
                     &ev->start_mark);
        if (!n)
            goto nomem;
        rc = build_children(r, n, depth);
        break;
    case YAML_ALIAS_EVENT:
        rc = at_mark(r, &ev->start_mark, NR_EUNSUP, "YAML aliases (*%s) are not supported",
                     (const char *)ev->data.alias.anchor);
        break;
    default:
        rc = at_mark(r, &ev->start_mark, NR_ESYNTAX, "malformed YAML: unexpected %s",
                     "event");
        break;
    }
    goto done;
nomem:
    rc = at_mark(r, &ev->start_mark, NR_ENOMEM, "out of memory%s", "");
done:
    yaml_event_delete(ev);
    if (rc)
        node_free(n);
    else
        *out = n;
    return rc;
}

int nr_yaml_parse(const char *text, size_t len, const char *path, nr_yaml_doc **out,
                  nr_err *err)
{
    *out = NULL;
    nr_yaml_doc *d = calloc(1, sizeof *d);
    if (!d)
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, "", "out of memory");
    snprintf(d->path, sizeof d->path, "%s", path ? path : "");
    reader r = {.path = d->path, .err = err};
    if (!yaml_parser_initialize(&r.p)) {
        free(d);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, "", "out of memory");
    }
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
    yaml_event_t ev;
    int rc = 0;
    int docs = 0;
    for (;;) {
        if ((rc = next_event(&r, &ev)))
            break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_DOCUMENT_START_EVENT && docs++ > 0) {
            rc = at_mark(&r, &ev.start_mark, NR_ESYNTAX, "%s",
                         "expected one YAML document, found a second one");
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
            t == YAML_DOCUMENT_END_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        if ((rc = build(&r, &ev, 0, &d->root)))
            break;
    }
    yaml_parser_delete(&r.p);
    if (rc == 0 && (!d->root || nr_yaml_is_null(d->root)))
        rc = nr_err_set(err, NR_ESYNTAX, d->path, 1, 1, "", "empty document");
    if (rc) {
        nr_yaml_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

int nr_yaml_load(const char *path, nr_yaml_doc **out, nr_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "cannot open: %s", strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            /* spec files are small; refuse anything absurd before it costs memory */
            if (cap >= ((size_t)64 << 20)) {
                free(buf);
                fclose(f);
                return nr_err_set(err, NR_ERANGE, path, 0, 0, "", "file larger than 64 MiB");
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return nr_err_set(err, NR_ENOMEM, path, 0, 0, "", "out of memory");
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, cap - len, f);
        len += k;
        if (k == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return nr_err_set(err, NR_EIO, path, 0, 0, "", "read error");
    }
    int rc = nr_yaml_parse(buf ? buf : "", len, path, out, err);
    free(buf);
    return rc;
}

/* ---------------------------------------------------------------- access */

const nr_yaml_node *nr_yaml_get(const nr_yaml_node *map, const char *key)
{
    if (!map || map->kind != NR_YAML_MAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->text, key))
            return map->items[i];
    return NULL;
}

const nr_yaml_node *nr_yaml_key(const nr_yaml_node *map, const char *key)
{
    if (!map || map->kind != NR_YAML_MAP)
        return NULL;
    for (int i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->text, key))
            return map->keys[i];
    return NULL;
}

int nr_yaml_is_null(const nr_yaml_node *n)
{
    if (!n || n->kind != NR_YAML_SCALAR || n->quoted)
        return 0;
    const char *t = n->text;
    return !t[0] || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
           !strcmp(t, "NULL");
}

void nr_yaml_describe(const nr_yaml_node *n, char *buf, size_t size)
{
    if (!n)
        snprintf(buf, size, "nothing");
    else if (n->kind == NR_YAML_MAP)
        snprintf(buf, size, "a mapping");
    else if (n->kind == NR_YAML_SEQ)
        snprintf(buf, size, "a list of %d", n->n);
    else if (nr_yaml_is_null(n))
        snprintf(buf, size, "null");
    else if (strlen(n->text) > 40)
        snprintf(buf, size, "\"%.37s...\"", n->text);
    else
        snprintf(buf, size, "\"%s\"", n->text);
}

int nr_yaml_err(const nr_yaml_doc *d, const nr_yaml_node *n, int code, const char *where,
                nr_err *err, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nr_err_set(err, code, d ? d->path : "", n ? n->line : 0, n ? n->col : 0, where,
                      "%s", msg);
}

static int expected(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                    const char *what, nr_err *err)
{
    char got[64];
    nr_yaml_describe(n, got, sizeof got);
    return nr_yaml_err(d, n, NR_ESYNTAX, where, err, "expected %s, got %s", what, got);
}

int nr_yaml_int(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where, long lo,
                long hi, int *out, nr_err *err)
{
    if (!n || n->kind != NR_YAML_SCALAR)
        return expected(d, n, where, "an integer", err);
    const char *s = n->text;
    const char *p = s + (*s == '+' || *s == '-');
    if (*p < '0' || *p > '9')
        return expected(d, n, where, "an integer", err);
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end)
        return expected(d, n, where, "an integer", err);
    if (errno == ERANGE || v < lo || v > hi)
        return nr_yaml_err(d, n, NR_ERANGE, where, err,
                           "expected an integer in [%ld, %ld], got %s", lo, hi, s);
    *out = (int)v;
    return 0;
}

int nr_yaml_double(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                   double *out, nr_err *err)
{
    if (!n || n->kind != NR_YAML_SCALAR || !n->text[0])
        return expected(d, n, where, "a number", err);
    const char *s = n->text;
    const char *p = s + (*s == '+' || *s == '-');
    /* strtod also reads "inf", "nan" and hex; parameters must be finite decimals */
    if (!((*p >= '0' && *p <= '9') || (*p == '.' && p[1] >= '0' && p[1] <= '9')) ||
        strpbrk(s, "xX"))
        return expected(d, n, where, "a number", err);
    char *end;
    double v = strtod(s, &end);
    if (*end)
        return expected(d, n, where, "a number", err);
    if (!isfinite(v))
        return nr_yaml_err(d, n, NR_ERANGE, where, err, "expected a finite number, got %s", s);
    *out = v;
    return 0;
}

int nr_yaml_bool(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where, int *out,
                 nr_err *err)
{
    if (n && n->kind == NR_YAML_SCALAR) {
        if (!strcasecmp(n->text, "true") || !strcasecmp(n->text, "yes")) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(n->text, "false") || !strcasecmp(n->text, "no")) {
            *out = 0;
            return 0;
        }
    }
    return expected(d, n, where, "true or false", err);
}

int nr_yaml_string(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where, char *out,
                   size_t size, nr_err *err)
{
    if (!n || n->kind != NR_YAML_SCALAR || !n->text[0] || nr_yaml_is_null(n))
        return expected(d, n, where, "a name", err);
    if (strlen(n->text) >= size)
        return nr_yaml_err(d, n, NR_ERANGE, where, err, "longer than %zu characters",
                           size - 1);
    memcpy(out, n->text, strlen(n->text) + 1);
    return 0;
}

int nr_yaml_check_map(const nr_yaml_doc *d, const nr_yaml_node *n, const char *where,
                      const char *allowed, nr_err *err)
{
    if (!n || n->kind != NR_YAML_MAP)
        return expected(d, n, where, "a mapping", err);
    for (int i = 0; i < n->n; i++) {
        const char *k = n->keys[i]->text;
        size_t kl = strlen(k);
        int ok = 0;
        for (const char *a = allowed; *a && !ok;) {
            size_t al = strcspn(a, " ");
            ok = al == kl && !strncmp(a, k, kl);
            a += al;
            a += strspn(a, " ");
        }
        if (!ok) {
            char w[96];
            snprintf(w, sizeof w, "%s%s%.60s", where, where[0] ? "." : "", k);
            return nr_yaml_err(d, n->keys[i], NR_ESYNTAX, w, err,
                               "unknown field (expected one of: %s)", allowed);
        }
    }
    return 0;
}
