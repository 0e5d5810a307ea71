/* strbuf.c -- nr_strbuf: a bounded string builder over a caller's buffer,
 * used for every message assembled piece by piece (shape lists, lists of
 * allowed words).  Appends never write past the buffer: text that does not
 * fit is cut and ends in "...", so a hostile input makes a long message,
 * never an overflow. */
#include "numrep.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

nr_strbuf nr_strbuf_on(char *buf, size_t cap)
{
    nr_strbuf sb = {buf, cap, 0, 0};
    if (cap)
        buf[0] = 0;
    return sb;
}

/* Mark a cut: the text is full and ends in "..." when there is room. */
static void cut(nr_strbuf *sb)
{
    sb->truncated = 1;
    sb->len = sb->cap - 1;
    if (sb->cap >= 4)
        memcpy(sb->buf + sb->cap - 4, "...", 4);
}

void nr_strbuf_add(nr_strbuf *sb, const char *fmt, ...)
{
    if (!sb->cap || sb->truncated)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap);
    va_end(ap);
    if (w < 0)
        sb->buf[sb->len] = 0;
    else if ((size_t)w >= sb->cap - sb->len)
        cut(sb);
    else
        sb->len += (size_t)w;
}

void nr_strbuf_dims(nr_strbuf *sb, const int64_t *dims, int n, const char *sep)
{
    for (int i = 0; i < n; i++)
        nr_strbuf_add(sb, "%s%lld", i ? sep : "", (long long)dims[i]);
}
