/* err.c -- nr_err: where an error came from and what was expected.
 * The first error recorded wins, so a caller deep in a parser can report
 * the root cause and every frame above it just returns. */
#include "numrep.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const codenames[] = {
    "ok",          /* NR_OK */
    "syntax",      /* NR_ESYNTAX */
    "range",       /* NR_ERANGE */
    "shape",       /* NR_ESHAPE */
    "io",          /* NR_EIO */
    "nomem",       /* NR_ENOMEM */
    "corrupt",     /* NR_ECORRUPT */
    "unsupported", /* NR_EUNSUP */
    "internal",    /* NR_EINTERNAL */
};

const char *nr_err_codename(int code)
{
    if (code < 0)
        code = -code;
    if (code >= (int)(sizeof codenames / sizeof codenames[0]))
        return "unknown";
    return codenames[code];
}

void nr_err_clear(nr_err *e)
{
    if (e)
        memset(e, 0, sizeof *e);
}

int nr_err_set(nr_err *e, int code, const char *file, int line, int col,
               const char *where, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (!e || e->code)
        return -code;
    e->code = code;
    snprintf(e->file, sizeof e->file, "%s", file ? file : "");
    e->line = line;
    e->col = col;
    snprintf(e->where, sizeof e->where, "%s", where ? where : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -code;
}

/* Append printf output to buf[0..n) at *k, truncating silently. */
static void put(char *buf, size_t n, size_t *k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t n, size_t *k, const char *fmt, ...)
{
    if (*k + 1 >= n)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *k, n - *k, fmt, ap);
    va_end(ap);
    if (w > 0)
        *k = (size_t)w >= n - *k ? n - 1 : *k + (size_t)w;
}

void nr_err_format(const nr_err *e, char *buf, size_t n)
{
    size_t k = 0;
    if (!n)
        return;
    buf[0] = 0;
    if (e->file[0]) {
        put(buf, n, &k, "%s:", e->file);
        if (e->line > 0) {
            put(buf, n, &k, "%d:", e->line);
            if (e->col > 0)
                put(buf, n, &k, "%d:", e->col);
        }
        put(buf, n, &k, "%s", " ");
    }
    if (e->where[0])
        put(buf, n, &k, "%s: ", e->where);
    put(buf, n, &k, "%s", e->msg[0] ? e->msg : nr_err_codename(e->code));
}
