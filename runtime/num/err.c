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

void nr_err_format(const nr_err *e, char *buf, size_t n)
{
    nr_strbuf sb = nr_strbuf_on(buf, n);
    if (e->file[0]) {
        nr_strbuf_add(&sb, "%s:", e->file);
        if (e->line > 0) {
            nr_strbuf_add(&sb, "%d:", e->line);
            if (e->col > 0)
                nr_strbuf_add(&sb, "%d:", e->col);
        }
        nr_strbuf_add(&sb, " ");
    }
    if (e->where[0])
        nr_strbuf_add(&sb, "%s: ", e->where);
    nr_strbuf_add(&sb, "%s", e->msg[0] ? e->msg : nr_err_codename(e->code));
}
