/* safetensors.c -- read and write safetensors weight files.
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON (an object
 * of tensor name -> {"dtype", "shape", "data_offsets": [begin, end]} plus an
 * optional "__metadata__" object of string -> string), then the data
 * section; offsets are relative to its start.  As in the reference
 * implementation the header starts with '{', may be padded with trailing
 * whitespace, has no duplicate keys, and the tensors tile the data section
 * exactly (no overlap, no gap, nothing left over).
 *
 * The file is hostile input: the JSON is parsed by the small grammar-specific
 * parser below (no generic values, so nesting depth is bounded by the
 * grammar), and every number is checked before it is used. */
#include "tensorio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Same cap as the reference implementation: a real header is at most a few MB. */
#define MAX_HEADER ((uint64_t)100 << 20)
#define MAX_TENSORS 1000000

struct nr_safetensors {
    char path[256];
    unsigned char *bytes;          /* the whole file                        */
    size_t size;
    const unsigned char *data;     /* data section                          */
    uint64_t datalen;
    int n;
    nr_tensor_info *t;             /* in data order                         */
    int *byname;                   /* indices sorted by name, for find      */
    unsigned char *used;           /* written through by read_f64 (const st) */
};

static const struct {
    const char *name;
    nr_dtype dt;
    int size;
} dtypes[] = {
    {"F64", NR_DT_F64, 8},
    {"F32", NR_DT_F32, 4},
    {"F16", NR_DT_F16, 2},
    {"BF16", NR_DT_BF16, 2},
};

static int dtype_size(nr_dtype dt)
{
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (dtypes[i].dt == dt)
            return dtypes[i].size;
    return 0;
}

/* ---------------------------------------------------------------- JSON */

typedef struct jp {
    const unsigned char *s;
    size_t n, i;
    const char *path;
    nr_err *err;
} jp;

static int jfail(jp *p, const char *where, const char *fmt, const char *arg)
{
    char msg[200];
    snprintf(msg, sizeof msg, fmt, arg ? arg : "");
    return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, where, "%s (header byte %zu)", msg,
                      p->i);
}

static void jws(jp *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

/* Consume c after whitespace, or fail naming what was expected. */
static int jexpect(jp *p, char c, const char *where, const char *what)
{
    jws(p);
    if (p->i >= p->n)
        return jfail(p, where, "header ends early: expected %s", what);
    if (p->s[p->i] != (unsigned char)c)
        return jfail(p, where, "expected %s", what);
    p->i++;
    return 0;
}

static int hex4(const unsigned char *s, unsigned *v)
{
    *v = 0;
    for (int k = 0; k < 4; k++) {
        int c = s[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        *v = *v << 4 | (unsigned)d;
    }
    return 0;
}

/* Length of the UTF-8 sequence at s (at most avail bytes), or 0 if it is
 * not well-formed (overlong, surrogate, beyond U+10FFFF, truncated). */
static size_t utf8_len(const unsigned char *s, size_t avail)
{
    unsigned c = s[0], cp, min;
    size_t len;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > avail)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* Bytes of s that form well-formed UTF-8 (strlen(s) when all do). */
static size_t utf8_check_len(const char *s)
{
    size_t n = strlen(s), i = 0, len;
    while (i < n && (len = utf8_len((const unsigned char *)s + i, n - i)))
        i += len;
    return i;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parse a JSON string into out (cap bytes incl. the terminator).  Strings
 * longer than cap-1 bytes, or holding U+0000 (we use C strings), are errors. */
static int jstring(jp *p, char *out, size_t cap, const char *where, const char *what)
{
    size_t k = 0;
    if (jexpect(p, '"', where, what))
        return -1;
    for (;;) {
        if (p->i >= p->n)
            return jfail(p, where, "header ends inside a string%s", "");
        unsigned c = p->s[p->i];
        char buf[4];
        size_t len;
        if (c == '"') {
            p->i++;
            break;
        }
        if (c < 0x20)
            return jfail(p, where, "control character in a string (expected \\u escape)%s", "");
        if (c == '\\') {
            if (p->i + 1 >= p->n)
                return jfail(p, where, "header ends inside a string%s", "");
            unsigned e = p->s[p->i + 1], cp;
            p->i += 2;
            switch (e) {
            case '"': case '\\': case '/': cp = e; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (p->i + 4 > p->n || hex4(p->s + p->i, &cp))
                    return jfail(p, where, "bad \\u escape (expected 4 hex digits)%s", "");
                p->i += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return jfail(p, where, "unpaired low surrogate in \\u escape%s", "");
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (p->i + 6 > p->n || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u' ||
                        hex4(p->s + p->i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                        return jfail(p, where, "unpaired high surrogate in \\u escape%s", "");
                    p->i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                if (cp == 0)
                    return jfail(p, where, "\\u0000 in a string is not supported%s", "");
                break;
            default:
                p->i--;
                return jfail(p, where, "unknown escape in a string%s", "");
            }
            len = put_utf8(buf, cp);
        } else {
            len = utf8_len(p->s + p->i, p->n - p->i);
            if (!len)
                return jfail(p, where, "invalid UTF-8 in a string%s", "");
            memcpy(buf, p->s + p->i, len);
            p->i += len;
        }
        if (k + len >= cap) {
            char m[64];
            snprintf(m, sizeof m, "string longer than %zu bytes", cap - 1);
            return jfail(p, where, "%s", m);
        }
        memcpy(out + k, buf, len);
        k += len;
    }
    out[k] = 0;
    return 0;
}

/* A non-negative JSON integer up to INT64_MAX (no sign, fraction, exponent
 * or leading zero). */
static int juint(jp *p, uint64_t *v, const char *where)
{
    jws(p);
    size_t start = p->i;
    uint64_t x = 0;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9') {
        unsigned d = p->s[p->i] - '0';
        if (x > ((uint64_t)INT64_MAX - d) / 10)
            return jfail(p, where, "integer too large (expected at most 2^63-1)%s", "");
        x = x * 10 + d;
        p->i++;
    }
    if (p->i == start)
        return jfail(p, where, "expected a non-negative integer%s", "");
    if (p->i - start > 1 && p->s[start] == '0') {
        p->i = start;
        return jfail(p, where, "leading zero in an integer%s", "");
    }
    if (p->i < p->n && (p->s[p->i] == '.' || p->s[p->i] == 'e' || p->s[p->i] == 'E'))
        return jfail(p, where, "expected an integer, not a fraction%s", "");
    *v = x;
    return 0;
}

/* After a member or element: ',' (returns 1) or the closing bracket (returns 0). */
static int jnext(jp *p, char close, const char *where)
{
    jws(p);
    if (p->i >= p->n)
        return jfail(p, where, "header ends early: expected ',' or '%s'",
                     close == '}' ? "}" : "]");
    if (p->s[p->i] == ',') {
        p->i++;
        return 1;
    }
    if (p->s[p->i] == (unsigned char)close) {
        p->i++;
        return 0;
    }
    return jfail(p, where, "expected ',' or '%s'", close == '}' ? "}" : "]");
}

/* Is the next non-blank byte c?  (Consumes it if so.) */
static int jpeek(jp *p, char c)
{
    jws(p);
    if (p->i < p->n && p->s[p->i] == (unsigned char)c) {
        p->i++;
        return 1;
    }
    return 0;
}

/* [u, u, ...] with at most max elements. */
static int juint_array(jp *p, uint64_t *v, int max, int *count, const char *where,
                       const char *what)
{
    int k = 0, r;
    if (jexpect(p, '[', where, what))
        return -1;
    if (jpeek(p, ']')) {
        *count = 0;
        return 0;
    }
    do {
        if (k == max) {
            char m[80];
            snprintf(m, sizeof m, "too many elements (expected at most %d)", max);
            return jfail(p, where, "%s", m);
        }
        if (juint(p, &v[k++], where))
            return -1;
    } while ((r = jnext(p, ']', where)) == 1);
    if (r < 0)
        return -1;
    *count = k;
    return 0;
}

/* "__metadata__": {str: str, ...}.  Values are not kept; keys must be unique. */
static int jmetadata(jp *p)
{
    const char *where = "__metadata__";
    char (*keys)[128] = NULL;
    int nk = 0, cap = 0, r;
    char key[128], val[4096];
    if (jexpect(p, '{', where, "'{' (an object of string values)"))
        return -1;
    if (jpeek(p, '}'))
        return 0;
    do {
        if (jstring(p, key, sizeof key, where, "a string key") ||
            jexpect(p, ':', where, "':'") ||
            jstring(p, val, sizeof val, where, "a string value"))
            goto fail;
        for (int k = 0; k < nk; k++)
            if (!strcmp(keys[k], key)) {
                jfail(p, where, "duplicate key \"%s\"", key);
                goto fail;
            }
        if (nk == cap) {
            if (cap >= 4096) {
                jfail(p, where, "more than 4096 entries%s", "");
                goto fail;
            }
            cap = cap ? 2 * cap : 8;
            void *nkeys = realloc(keys, (size_t)cap * sizeof *keys);
            if (!nkeys) {
                nr_err_set(p->err, NR_ENOMEM, p->path, 0, 0, where, "out of memory");
                goto fail;
            }
            keys = nkeys;
        }
        memcpy(keys[nk++], key, sizeof key);
    } while ((r = jnext(p, '}', where)) == 1);
    free(keys);
    return r;
fail:
    free(keys);
    return -1;
}

/* {"dtype": .., "shape": [..], "data_offsets": [b, e]} for tensor t->name. */
static int jtensor(jp *p, nr_tensor_info *t)
{
    char where[160], key[32], dt[32];
    int have_dtype = 0, have_shape = 0, have_off = 0, r;
    uint64_t shape[NR_TENSOR_MAXDIM], off[2];
    int ndim = 0, noff = 0;
    snprintf(where, sizeof where, "tensor %s", t->name);
    if (jexpect(p, '{', where, "'{' (an object with dtype, shape, data_offsets)"))
        return -1;
    if (!jpeek(p, '}'))
        do {
            if (jstring(p, key, sizeof key, where, "a field name"))
                return -1;
            if (jexpect(p, ':', where, "':'"))
                return -1;
            int *seen = !strcmp(key, "dtype") ? &have_dtype
                        : !strcmp(key, "shape") ? &have_shape
                        : !strcmp(key, "data_offsets") ? &have_off : NULL;
            if (!seen)
                return jfail(p, where,
                             "unknown field \"%s\" (expected dtype, shape, data_offsets)", key);
            if (*seen)
                return jfail(p, where, "duplicate field \"%s\"", key);
            *seen = 1;
            if (seen == &have_dtype) {
                if (jstring(p, dt, sizeof dt, where, "a dtype string (F64, F32, F16, BF16)"))
                    return -1;
            } else if (seen == &have_shape) {
                if (juint_array(p, shape, NR_TENSOR_MAXDIM, &ndim, where,
                                "'[' (shape: a list of integers)"))
                    return -1;
            } else if (juint_array(p, off, 2, &noff, where,
                                   "'[' (data_offsets: [begin, end])"))
                return -1;
        } while ((r = jnext(p, '}', where)) == 1);
    else
        r = 0;
    if (r < 0)
        return -1;
    const char *missing = !have_dtype ? "dtype" : !have_shape ? "shape"
                          : !have_off ? "data_offsets" : NULL;
    if (missing)
        return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, where, "missing field \"%s\"",
                          missing);
    if (noff != 2)
        return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, where,
                          "data_offsets has %d elements, expected 2 ([begin, end])", noff);
    int found = 0;
    for (size_t k = 0; k < sizeof dtypes / sizeof dtypes[0]; k++)
        if (!strcmp(dt, dtypes[k].name)) {
            t->dtype = dtypes[k].dt;
            found = 1;
        }
    if (!found)
        return nr_err_set(p->err, NR_EUNSUP, p->path, 0, 0, where,
                          "dtype \"%s\" is not supported (expected F64, F32, F16 or BF16)", dt);
    /* count * size must not overflow: each factor is checked against what
     * is left of INT64_MAX before it is multiplied in. */
    uint64_t count = 1;
    int overflow = 0;
    for (int k = 0; k < ndim; k++) {
        t->shape[k] = (int64_t)shape[k];
        if (shape[k] && count > (uint64_t)INT64_MAX / shape[k])
            overflow = 1;
        else
            count *= shape[k];
    }
    uint64_t size = (uint64_t)dtype_size(t->dtype);
    if (overflow || count > (uint64_t)INT64_MAX / size)
        return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, where,
                          "shape is too large (element count overflows)");
    t->ndim = ndim;
    t->count = count;
    t->begin = off[0];
    t->end = off[1];
    if (off[0] > off[1])
        return nr_err_set(p->err, NR_ECORRUPT, p->path, 0, 0, where,
                          "data_offsets [%llu, %llu]: begin after end",
                          (unsigned long long)off[0], (unsigned long long)off[1]);
    if (off[1] - off[0] != count * size)
        return nr_err_set(p->err, NR_ESHAPE, p->path, 0, 0, where,
                          "data_offsets [%llu, %llu] hold %llu bytes, but shape and dtype %s "
                          "need %llu",
                          (unsigned long long)off[0], (unsigned long long)off[1],
                          (unsigned long long)(off[1] - off[0]), dt,
                          (unsigned long long)(count * size));
    return 0;
}

/* The top-level object: fills st->t / st->n. */
static int jheader(jp *p, nr_safetensors *st)
{
    int cap = 0, r, have_meta = 0;
    char name[sizeof st->t[0].name];
    if (p->n == 0 || p->s[0] != '{')
        return jfail(p, "header", "header is not a JSON object (expected '{' at its start)%s",
                     "");
    p->i = 1;
    if (!jpeek(p, '}'))
        do {
            if (jstring(p, name, sizeof name, "header", "a tensor name (string)"))
                return -1;
            if (jexpect(p, ':', "header", "':'"))
                return -1;
            if (!strcmp(name, "__metadata__")) {
                if (have_meta)
                    return jfail(p, "header", "duplicate key \"__metadata__\"%s", "");
                have_meta = 1;
                if (jmetadata(p))
                    return -1;
                continue;
            }
            if (!name[0])
                return jfail(p, "header", "empty tensor name%s", "");
            if (st->n == cap) {
                if (cap >= MAX_TENSORS)
                    return jfail(p, "header", "too many tensors%s", "");
                cap = cap ? 2 * cap : 16;
                void *nt = realloc(st->t, (size_t)cap * sizeof *st->t);
                if (!nt)
                    return nr_err_set(p->err, NR_ENOMEM, p->path, 0, 0, "header",
                                      "out of memory");
                st->t = nt;
            }
            nr_tensor_info *t = &st->t[st->n++];
            memset(t, 0, sizeof *t);
            memcpy(t->name, name, sizeof name);
            if (jtensor(p, t))
                return -1;
        } while ((r = jnext(p, '}', "header")) == 1);
    else
        r = 0;
    if (r < 0)
        return -1;
    jws(p);
    if (p->i != p->n)
        return jfail(p, "header", "unexpected bytes after the header object%s", "");
    return 0;
}

/* ---------------------------------------------------------------- index */

static int by_begin(const void *a, const void *b)
{
    const nr_tensor_info *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Merge sort of indices by tensor name (qsort has no context argument). */
static void sort_names(const nr_tensor_info *t, int *idx, int *tmp, int n)
{
    if (n < 2)
        return;
    int h = n / 2;
    sort_names(t, idx, tmp, h);
    sort_names(t, idx + h, tmp, n - h);
    int i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = strcmp(t[idx[i]].name, t[idx[j]].name) <= 0 ? idx[i++] : idx[j++];
    while (i < h)
        tmp[k++] = idx[i++];
    while (j < n)
        tmp[k++] = idx[j++];
    memcpy(idx, tmp, (size_t)n * sizeof *idx);
}

/* Tensors must tile [0, datalen) exactly, as in the reference reader:
 * sorted by begin, each starts where the previous ended. */
static int check_layout(nr_safetensors *st, nr_err *err)
{
    char where[160];
    for (int i = 0; i < st->n; i++)
        if (st->t[i].end > st->datalen) {
            snprintf(where, sizeof where, "tensor %s", st->t[i].name);
            return nr_err_set(err, NR_ECORRUPT, st->path, 0, 0, where,
                              "data_offsets [%llu, %llu] reach beyond the data section "
                              "(%llu bytes; file truncated?)",
                              (unsigned long long)st->t[i].begin,
                              (unsigned long long)st->t[i].end,
                              (unsigned long long)st->datalen);
        }
    if (st->n > 1)
        qsort(st->t, (size_t)st->n, sizeof *st->t, by_begin);
    uint64_t at = 0;
    for (int i = 0; i < st->n; i++) {
        const nr_tensor_info *t = &st->t[i];
        snprintf(where, sizeof where, "tensor %s", t->name);
        if (t->begin < at)
            return nr_err_set(err, NR_ECORRUPT, st->path, 0, 0, where,
                              "data_offsets [%llu, %llu] overlap tensor %s [%llu, %llu]",
                              (unsigned long long)t->begin, (unsigned long long)t->end,
                              st->t[i - 1].name, (unsigned long long)st->t[i - 1].begin,
                              (unsigned long long)st->t[i - 1].end);
        if (t->begin > at)
            return nr_err_set(err, NR_ECORRUPT, st->path, 0, 0, where,
                              "data_offsets begin at %llu, leaving a gap of %llu unused bytes "
                              "(expected %llu: tensors must be contiguous)",
                              (unsigned long long)t->begin,
                              (unsigned long long)(t->begin - at), (unsigned long long)at);
        at = t->end;
    }
    if (at != st->datalen)
        return nr_err_set(err, NR_ECORRUPT, st->path, 0, 0, "data",
                          "%llu bytes after the last tensor are not covered by any "
                          "data_offsets (data section is %llu bytes, tensors end at %llu)",
                          (unsigned long long)(st->datalen - at),
                          (unsigned long long)st->datalen, (unsigned long long)at);
    /* Duplicate names: adjacent after sorting by name. */
    int *tmp = malloc((size_t)(st->n ? st->n : 1) * sizeof *tmp);
    st->byname = malloc((size_t)(st->n ? st->n : 1) * sizeof *st->byname);
    st->used = calloc((size_t)(st->n ? st->n : 1), 1);
    if (!tmp || !st->byname || !st->used) {
        free(tmp);
        return nr_err_set(err, NR_ENOMEM, st->path, 0, 0, NULL, "out of memory");
    }
    for (int i = 0; i < st->n; i++)
        st->byname[i] = i;
    sort_names(st->t, st->byname, tmp, st->n);
    free(tmp);
    for (int i = 1; i < st->n; i++)
        if (!strcmp(st->t[st->byname[i]].name, st->t[st->byname[i - 1]].name)) {
            snprintf(where, sizeof where, "tensor %s", st->t[st->byname[i]].name);
            return nr_err_set(err, NR_ECORRUPT, st->path, 0, 0, where,
                              "duplicate tensor name (expected each name once)");
        }
    return 0;
}

/* ---------------------------------------------------------------- open */

static int read_file(const char *path, unsigned char **bytes, size_t *size, nr_err *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "not a regular file");
    }
    if ((uint64_t)sb.st_size > (uint64_t)SIZE_MAX / 2) {
        fclose(f);
        return nr_err_set(err, NR_ERANGE, path, 0, 0, NULL, "file too large");
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *b = malloc(n ? n : 1);
    if (!b) {
        fclose(f);
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory reading %zu bytes", n);
    }
    size_t got = fread(b, 1, n, f);
    int bad = ferror(f);
    fclose(f);
    if (got != n || bad) {
        free(b);
        return nr_err_set(err, NR_EIO, path, 0, 0, NULL, "read error");
    }
    *bytes = b;
    *size = n;
    return 0;
}

int nr_safetensors_open(const char *path, nr_safetensors **out, nr_err *err)
{
    *out = NULL;
    nr_safetensors *st = calloc(1, sizeof *st);
    if (!st)
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
    snprintf(st->path, sizeof st->path, "%s", path);
    if (read_file(path, &st->bytes, &st->size, err))
        goto fail;
    if (st->size < 8) {
        nr_err_set(err, NR_ECORRUPT, path, 0, 0, "header length",
                   "file has %zu bytes, expected at least 8 (the header length)", st->size);
        goto fail;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = hlen << 8 | st->bytes[k];
    if (hlen > st->size - 8) {
        nr_err_set(err, NR_ECORRUPT, path, 0, 0, "header length",
                   "header length %llu reaches beyond the end of the file (%zu bytes after "
                   "the length field)",
                   (unsigned long long)hlen, st->size - 8);
        goto fail;
    }
    if (hlen > MAX_HEADER) {
        nr_err_set(err, NR_ECORRUPT, path, 0, 0, "header length",
                   "header length %llu exceeds the 100 MiB limit", (unsigned long long)hlen);
        goto fail;
    }
    jp p = {st->bytes + 8, (size_t)hlen, 0, st->path, err};
    if (jheader(&p, st))
        goto fail;
    st->data = st->bytes + 8 + hlen;
    st->datalen = st->size - 8 - hlen;
    if (check_layout(st, err))
        goto fail;
    *out = st;
    return 0;
fail:
    nr_safetensors_close(st);
    return -(err && err->code ? err->code : NR_EINTERNAL);
}

void nr_safetensors_close(nr_safetensors *st)
{
    if (!st)
        return;
    free(st->bytes);
    free(st->t);
    free(st->byname);
    free(st->used);
    free(st);
}

int nr_safetensors_count(const nr_safetensors *st) { return st->n; }

const nr_tensor_info *nr_safetensors_info(const nr_safetensors *st, int i)
{
    return i >= 0 && i < st->n ? &st->t[i] : NULL;
}

int nr_safetensors_find(const nr_safetensors *st, const char *name)
{
    int lo = 0, hi = st->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2, c = strcmp(name, st->t[st->byname[mid]].name);
        if (!c)
            return st->byname[mid];
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return -1;
}

/* ---------------------------------------------------------------- convert */

/* Bits of the binary64 with the same value as an IEEE binary interchange
 * encoding with ebits exponent and mbits fraction bits (ebits < 11,
 * mbits < 52): re-bias the exponent and left-align the fraction;
 * subnormals are normalised (exact: the fraction has fewer than 52 bits).
 * NaNs keep sign and payload, and stay NaNs (fraction non-zero). */
static uint64_t widen(uint64_t x, int ebits, int mbits)
{
    uint64_t sign = x >> (ebits + mbits) & 1, man = x & ((1ull << mbits) - 1);
    int emax = (1 << ebits) - 1, bias = (1 << (ebits - 1)) - 1;
    int e = (int)(x >> mbits & (uint64_t)emax);
    uint64_t out = sign << 63;
    if (e == emax)
        return out | 0x7FFull << 52 | man << (52 - mbits);
    if (e == 0) {
        if (!man)
            return out;
        /* value = man * 2^(1 - bias - mbits); shift man's leading 1 to bit mbits */
        e = 1;
        while (!(man >> mbits)) {
            man <<= 1;
            e--;
        }
        man &= (1ull << mbits) - 1;
    }
    return out | (uint64_t)(e - bias + 1023) << 52 | man << (52 - mbits);
}

static double bits_to_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

int nr_safetensors_read_f64(const nr_safetensors *st, int i, double *out, nr_err *err)
{
    if (i < 0 || i >= st->n)
        return nr_err_set(err, NR_EINTERNAL, st->path, 0, 0, NULL, "tensor index %d out of range",
                          i);
    const nr_tensor_info *t = &st->t[i];
    const unsigned char *p = st->data + t->begin;
    int size = dtype_size(t->dtype);
    for (uint64_t k = 0; k < t->count; k++, p += size) {
        uint64_t x = 0;
        for (int b = size - 1; b >= 0; b--)
            x = x << 8 | p[b];
        switch (t->dtype) {
        case NR_DT_F64: out[k] = bits_to_double(x); break;
        case NR_DT_F32: out[k] = bits_to_double(widen(x, 8, 23)); break;
        case NR_DT_F16: out[k] = bits_to_double(widen(x, 5, 10)); break;
        case NR_DT_BF16: out[k] = bits_to_double(widen(x, 8, 7)); break;
        }
    }
    st->used[i] = 1;
    return 0;
}

const char *nr_safetensors_unused(const nr_safetensors *st)
{
    for (int i = 0; i < st->n; i++)
        if (!st->used[i])
            return st->t[i].name;
    return NULL;
}

/* ---------------------------------------------------------------- write */

/* Append s to the buffer (grows it). */
typedef struct sbuf {
    char *b;
    size_t n, cap;
    int oom;
} sbuf;

static void sput(sbuf *s, const char *x, size_t len)
{
    if (s->oom)
        return;
    if (s->n + len + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->n + len + 1)
            cap *= 2;
        char *nb = realloc(s->b, cap);
        if (!nb) {
            s->oom = 1;
            return;
        }
        s->b = nb;
        s->cap = cap;
    }
    memcpy(s->b + s->n, x, len);
    s->n += len;
    s->b[s->n] = 0;
}

static void sputs(sbuf *s, const char *x) { sput(s, x, strlen(x)); }

static void sput_json_string(sbuf *s, const char *x)
{
    sputs(s, "\"");
    for (; *x; x++) {
        unsigned char c = (unsigned char)*x;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            sput(s, e, 2);
        } else if (c < 0x20) {
            snprintf(e, sizeof e, "\\u%04x", c);
            sputs(s, e);
        } else
            sput(s, (const char *)&c, 1);
    }
    sputs(s, "\"");
}

int nr_safetensors_write_f32(const char *path, const nr_tensor_out *t, int n, nr_err *err)
{
    sbuf h = {0};
    uint64_t off = 0;
    char where[160], num[64];
    if (n < 0)
        return nr_err_set(err, NR_EINTERNAL, path, 0, 0, NULL, "negative tensor count");
    sputs(&h, "{");
    for (int i = 0; i < n; i++) {
        snprintf(where, sizeof where, "tensor %s", t[i].name ? t[i].name : "(null)");
        if (!t[i].name || !t[i].name[0] || strlen(t[i].name) >= sizeof ((nr_tensor_info *)0)->name ||
            !strcmp(t[i].name, "__metadata__")) {
            nr_err_set(err, NR_ERANGE, path, 0, 0, where,
                       "tensor name must be 1 to %zu bytes and not __metadata__",
                       sizeof ((nr_tensor_info *)0)->name - 1);
            goto fail;
        }
        if (strlen(t[i].name) != utf8_check_len(t[i].name)) {
            nr_err_set(err, NR_ERANGE, path, 0, 0, where, "tensor name is not valid UTF-8");
            goto fail;
        }
        for (int j = 0; j < i; j++)
            if (!strcmp(t[i].name, t[j].name)) {
                nr_err_set(err, NR_ERANGE, path, 0, 0, where, "duplicate tensor name");
                goto fail;
            }
        if (t[i].ndim < 0 || t[i].ndim > NR_TENSOR_MAXDIM) {
            nr_err_set(err, NR_ERANGE, path, 0, 0, where, "ndim %d, expected 0 to %d",
                       t[i].ndim, NR_TENSOR_MAXDIM);
            goto fail;
        }
        uint64_t count = 1;
        for (int k = 0; k < t[i].ndim; k++) {
            int64_t d = t[i].shape[k];
            if (d < 0 || (d && count > (uint64_t)INT64_MAX / 4 / (uint64_t)d)) {
                nr_err_set(err, NR_ERANGE, path, 0, 0, where,
                           "shape[%d] = %lld is negative or too large", k, (long long)d);
                goto fail;
            }
            count *= (uint64_t)d;
        }
        if (count && !t[i].data) {
            nr_err_set(err, NR_EINTERNAL, path, 0, 0, where, "no data");
            goto fail;
        }
        if (i)
            sputs(&h, ",");
        sput_json_string(&h, t[i].name);
        sputs(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int k = 0; k < t[i].ndim; k++) {
            snprintf(num, sizeof num, "%s%lld", k ? "," : "", (long long)t[i].shape[k]);
            sputs(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + 4 * count));
        sputs(&h, num);
        off += 4 * count;
    }
    sputs(&h, "}");
    /* Pad with spaces so the data section starts 8-byte aligned. */
    while ((8 + h.n) % 8)
        sputs(&h, " ");
    if (h.oom) {
        nr_err_set(err, NR_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    FILE *f = fopen(path, "wb");
    if (!f) {
        nr_err_set(err, NR_EIO, path, 0, 0, NULL, "cannot create: %s", strerror(errno));
        goto fail;
    }
    unsigned char len8[8], chunk[4096];
    for (int k = 0; k < 8; k++)
        len8[k] = (unsigned char)((uint64_t)h.n >> (8 * k));
    int bad = fwrite(len8, 1, 8, f) != 8 || fwrite(h.b, 1, h.n, f) != h.n;
    for (int i = 0; i < n && !bad; i++) {
        uint64_t count = 1;
        for (int k = 0; k < t[i].ndim; k++)
            count *= (uint64_t)t[i].shape[k];
        size_t fill = 0;
        for (uint64_t e = 0; e < count && !bad; e++) {
            uint32_t u;
            memcpy(&u, &t[i].data[e], 4);
            for (int b = 0; b < 4; b++)
                chunk[fill++] = (unsigned char)(u >> (8 * b));
            if (fill == sizeof chunk || e + 1 == count) {
                bad = fwrite(chunk, 1, fill, f) != fill;
                fill = 0;
            }
        }
    }
    if (fclose(f) || bad) {
        remove(path);
        nr_err_set(err, NR_EIO, path, 0, 0, NULL, "write error");
        goto fail;
    }
    free(h.b);
    return 0;
fail:
    free(h.b);
    return -(err && err->code ? err->code : NR_EINTERNAL);
}
