/* value.c -- number text -> exact value (nr_value_exact_parse).
 *
 * Accepted (case-insensitive, optional surrounding whitespace, optional
 * sign):  decimal  "12", "0.1", ".5", "5.", "-3e-7", "1E+400";
 *         C99 hex  "0x1.8p-3", "0X.8", "0x10" (binary exponent optional);
 *         "inf", "infinity", "nan".
 * Rejected with a message: empty text, anything after the number, "0x"
 * without digits, an exponent letter without digits ("1e", "0x1p"), NaN
 * payloads "nan(...)" (numrep NaNs carry no payload, [rnd-5]), and every
 * other spelling strtod would take (the grammar is checked here first, so
 * the accepted language does not depend on the C library or the locale).
 *
 * Exactness: the digits are converted with glibc's strtof128 (binary128:
 * 113-bit significand, exponents down to 2^-16494), which is correctly
 * rounded in the current rounding mode.  The magnitude is converted under
 * FE_TOWARDZERO (t) and FE_UPWARD (u).  If t == u the value is exactly t;
 * otherwise it lies strictly between t and the next binary128 number, and
 * the result is t plus sticky.  That rounds correctly into every format:
 * each format value and each midpoint between neighbours has at most 66
 * significant bits (fixed formats: 64 magnitude bits plus the half) and lies
 * within binary64's range plus a few bits, so it is a binary128 number and
 * cannot lie strictly between two neighbouring binary128 numbers.
 * Beyond binary128's range: above its max, t is the max (plus sticky),
 * larger than every format's max, so it overflows as [rnd-3] says per mode
 * (rz gives max, not inf); below its smallest subnormal, t is 0 plus
 * sticky: a nonzero value below every format's smallest value. */
#define _GNU_SOURCE /* strtof128 */
#include "numrep.h"
#include "f128.h"

#include <ctype.h>
#include <fenv.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* Case-insensitive: does [p, end) spell word exactly? */
static int is_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)p[i]) != word[i])
            return 0;
    return 1;
}

/* Length of the longest prefix of [p, end) in the number grammar, 0 if
 * none; *why says what was missing when the prefix stops early. */
static size_t scan_number(const char *p, const char *end, const char **why)
{
    const char *q = p;
    int hex = end - q >= 2 && q[0] == '0' && (q[1] == 'x' || q[1] == 'X');
    int (*isdig)(int) = hex ? isxdigit : isdigit;
    size_t digits = 0;
    *why = NULL;
    if (hex)
        q += 2;
    while (q < end && isdig((unsigned char)*q))
        q++, digits++;
    if (q < end && *q == '.') {
        q++;
        while (q < end && isdig((unsigned char)*q))
            q++, digits++;
    }
    if (!digits) {
        *why = hex ? "no hex digits after \"0x\"" : NULL;
        return 0;
    }
    if (q < end && (hex ? (*q == 'p' || *q == 'P') : (*q == 'e' || *q == 'E'))) {
        const char *e = q + 1;
        if (e < end && (*e == '+' || *e == '-'))
            e++;
        if (e == end || !isdigit((unsigned char)*e)) {
            *why = hex ? "no digits in the binary exponent after 'p'"
                       : "no digits in the exponent after 'e'";
            return (size_t)(q - p);
        }
        while (e < end && isdigit((unsigned char)*e))
            e++;
        q = e;
    }
    return (size_t)(q - p);
}

/* The text quoted for a message: at most 40 bytes, non-printing as '?'. */
static void quote(const char *p, size_t n, char *buf, size_t cap)
{
    size_t k = 0, lim = n > 40 ? 40 : n;
    for (size_t i = 0; i < lim && k + 1 < cap; i++)
        buf[k++] = isprint((unsigned char)p[i]) ? p[i] : '?';
    if (n > lim)
        for (int i = 0; i < 3 && k + 1 < cap; i++)
            buf[k++] = '.';
    buf[k] = 0;
}

static void set_exact(nr_exact *o, nr_class cls, int sign)
{
    o->cls = cls;
    o->sign = cls == NR_CLS_NAN ? 0 : sign;
    o->exp = 0;
    o->sig = 0;
    o->sticky = 0;
}

/* Positive binary128 t -> sig * 2^exp (t finite). */
static void from_f128(nr_f128 t, nr_exact *o)
{
    u128 b;
    memcpy(&b, &t, sizeof b);
    int E = (int)(b >> 112) & 0x7fff;
    u128 M = b & (((u128)1 << 112) - 1);
    o->cls = NR_CLS_FINITE;
    o->sig = E ? M | (u128)1 << 112 : M;
    o->exp = (E ? E : 1) - 16383 - 112;
}

int nr_value_exact_parse(const char *s, nr_exact *out, nr_err *err)
{
    char shown[48];
    const char *p = s, *end = s + strlen(s);
    while (p < end && isspace((unsigned char)*p))
        p++;
    while (end > p && isspace((unsigned char)end[-1]))
        end--;
    if (p == end)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, NULL,
                          "expected a number, got empty text");
    quote(p, (size_t)(end - p), shown, sizeof shown);
    const char *body = p;
    int sign = 0;
    if (*body == '+' || *body == '-')
        sign = *body++ == '-';
    if (is_word(body, end, "inf") || is_word(body, end, "infinity")) {
        set_exact(out, NR_CLS_INF, sign);
        return 0;
    }
    if (is_word(body, end, "nan")) {
        set_exact(out, NR_CLS_NAN, 0);
        return 0;
    }
    if (end - body > 3 && is_word(body, body + 4, "nan("))
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, NULL,
                          "expected a number, got \"%s\" (NaN payloads are not supported; "
                          "write nan)", shown);
    const char *why;
    size_t n = scan_number(body, end, &why);
    if (n == 0)
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, NULL,
                          "expected a number, got \"%s\" (%s)", shown,
                          why ? why : "a decimal, C99 hex float, inf or nan");
    if (body + n != end) {
        char rest[48], head[48];
        if (why)
            return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, NULL,
                              "expected a number, got \"%s\" (%s)", shown, why);
        quote(body + n, (size_t)(end - body - n), rest, sizeof rest);
        quote(p, (size_t)(body + n - p), head, sizeof head);
        return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, NULL,
                          "expected a number, got \"%s\" (unexpected \"%s\" after \"%s\")",
                          shown, rest, head);
    }
    /* [rnd-1] enough of the exact value: truncated binary128 + sticky.  The
     * number is unsigned here, so toward-zero and upward bracket it. */
    int old = fegetround();
    char *stop = NULL;
    fesetround(FE_TOWARDZERO);
    nr_f128 t = strtof128(body, &stop);
    fesetround(FE_UPWARD);
    nr_f128 u = strtof128(body, NULL);
    fesetround(old);
    if (stop != body + n)
        return nr_err_set(err, NR_EINTERNAL, NULL, 0, 0, NULL,
                          "the C library read \"%s\" differently from numrep's grammar", shown);
    int inexact = memcmp(&t, &u, sizeof t) != 0;
    if (t == 0) {
        set_exact(out, inexact ? NR_CLS_FINITE : NR_CLS_ZERO, sign);
        if (inexact) { /* below binary128's smallest subnormal 2^-16494 */
            out->exp = -16494;
            out->sticky = 1;
        }
        return 0;
    }
    from_f128(t, out); /* finite: toward zero never gives inf */
    out->sign = sign;
    out->sticky = inexact;
    return 0;
}
