/* orcheck.h -- test-side helpers shared by check_oracle_*.c: building format
 * families, comparing libnumrep results with the oracle and reporting
 * mismatches with everything needed to reproduce them.  Header-only (static)
 * because the oracle library itself must not link libnumrep. */
#ifndef NUMREP_ORCHECK_H
#define NUMREP_ORCHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "oracle.h"

/* Mismatch bookkeeping.  "fail" breaks a rule the semantics state; "note"
 * differs only where the semantics leave room (flags marked open by the
 * oracle's care mask) and is printed but does not fail the test. */
#define OC_MAXCAT 128
typedef struct oc_stats {
    long checks;
    long fails, notes;
    int max_print, max_notes;
    /* mismatch categories (what, kind of difference): the first examples of
     * each are printed, so one rule broken everywhere does not hide others */
    int ncat;
    struct { char key[96]; long n; } cat[OC_MAXCAT];
} oc_stats;

static inline void oc_stats_init(oc_stats *s)
{
    memset(s, 0, sizeof *s);
    s->max_print = 400;
    s->max_notes = 12;
}

/* Count one mismatch of category key; 1 if it should be printed. */
static inline int oc_category(oc_stats *s, const char *key, int per_cat)
{
    for (int i = 0; i < s->ncat; i++)
        if (!strcmp(s->cat[i].key, key))
            return ++s->cat[i].n <= per_cat;
    if (s->ncat == OC_MAXCAT)
        return 0;
    snprintf(s->cat[s->ncat].key, sizeof s->cat[0].key, "%s", key);
    s->cat[s->ncat++].n = 1;
    return 1;
}

static inline void oc_summary(const oc_stats *s)
{
    for (int i = 0; i < s->ncat; i++)
        printf("  %8ld x %s\n", s->cat[i].n, s->cat[i].key);
}

static inline void oc_fail(oc_stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void oc_fail(oc_stats *s, const char *fmt, ...)
{
    s->fails++;
    if (s->fails > s->max_print)
        return;
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    fflush(stdout);
}

static inline void oc_note(oc_stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void oc_note(oc_stats *s, const char *fmt, ...)
{
    s->notes++;
    va_list ap;
    va_start(ap, fmt);
    printf("note ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

static inline double oc_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline const char *oc_mode(nr_rounding m)
{
    static const char *const n[] = {"rne", "rna", "rz", "ru", "rd", "rto", "sr"};
    return (unsigned)m < 7 ? n[m] : "?";
}

/* Float format from fields, default bias ([fmt-1]). 0 if nr_format_finish accepts. */
static inline int oc_make_float(nr_format *f, int X, int Y, nr_specials sp, int sub, int sat)
{
    memset(f, 0, sizeof *f);
    f->kind = NR_FLOAT;
    f->exp_bits = X;
    f->man_bits = Y;
    f->specials = sp;
    f->subnormals = sub;
    f->saturate = sat;
    f->bias = sp == NR_SPECIALS_FNUZ ? 1 << (X - 1) : (1 << (X - 1)) - 1;
    nr_err e = {0};
    return nr_format_finish(f, &e);
}

static inline int oc_make_fixed(nr_format *f, int I, int F, int sgn, int sat)
{
    memset(f, 0, sizeof *f);
    f->kind = NR_FIXED;
    f->int_bits = I;
    f->frac_bits = F;
    f->is_signed = sgn;
    f->saturate = sat;
    nr_err e = {0};
    return nr_format_finish(f, &e);
}

static inline void oc_name(const nr_format *f, char *buf, size_t n)
{
    nr_format_name(f, buf, n);
}

/* "+0x1.8p-3 (sticky)" */
static inline void oc_val_str(const or_val *v, char *buf, size_t n)
{
    switch (v->cls) {
    case NR_CLS_ZERO: snprintf(buf, n, "%s0", v->sign ? "-" : "+"); return;
    case NR_CLS_INF: snprintf(buf, n, "%sinf", v->sign ? "-" : "+"); return;
    case NR_CLS_NAN: snprintf(buf, n, "nan"); return;
    default: break;
    }
    mpfr_snprintf(buf, n, "%s%Ra%s", v->sign ? "-" : "+", v->mag, v->sticky ? " (+sticky)" : "");
}

static inline void oc_exact_str(const nr_exact *x, char *buf, size_t n)
{
    snprintf(buf, n, "{cls %d sign %d sig 0x%016llx%016llx exp %d sticky %d}", (int)x->cls,
             x->sign, (unsigned long long)(uint64_t)(x->sig >> 64),
             (unsigned long long)(uint64_t)x->sig, (int)x->exp, x->sticky);
}

static inline int oc_is_fixed_name(const char *n)
{
    return strchr(n, 'q') || !strncmp(n, "int", 3) || !strncmp(n, "uint", 4);
}

/* Compare one result; what/inputs describe the case.  Returns 1 if equal. */
static inline int oc_cmp(oc_stats *s, const char *fname, const char *what, nr_rounding m,
                         uint32_t r, const char *inputs, const or_res *exp, uint64_t bits,
                         unsigned flags)
{
    char fe[96], fa[96];
    s->checks++;
    if (bits != exp->bits || ((flags ^ exp->flags) & exp->care)) {
        char key[96];
        snprintf(key, sizeof key, "%s %s%s missing %s extra %s", what,
                 bits != exp->bits ? "BITS " : "", oc_is_fixed_name(fname) ? "fixed" : "float",
                 or_flags_str(exp->flags & ~flags & exp->care, fe, sizeof fe),
                 or_flags_str(flags & ~exp->flags & exp->care, fa, sizeof fa));
        if (!oc_category(s, key, 3)) {
            s->fails++;
            return 0;
        }
        oc_fail(s, "%s %s mode %s%s r=0x%08x inputs %s: expected 0x%llx flags %s, got 0x%llx flags %s",
                fname, what, oc_mode(m), "", r, inputs, (unsigned long long)exp->bits,
                or_flags_str(exp->flags, fe, sizeof fe), (unsigned long long)bits,
                or_flags_str(flags, fa, sizeof fa));
        return 0;
    }
    if ((flags ^ exp->flags) & ~exp->care & 0x7f) {
        char key[96];
        snprintf(key, sizeof key, "note %s %s lib-only %s oracle-only %s", what,
                 oc_is_fixed_name(fname) ? "fixed" : "float",
                 or_flags_str(flags & ~exp->flags & ~exp->care, fa, sizeof fa),
                 or_flags_str(exp->flags & ~flags & ~exp->care, fe, sizeof fe));
        if (!oc_category(s, key, 2)) {
            s->notes++;
            return 1;
        }
        oc_note(s, "%s %s mode %s r=0x%08x inputs %s: open flags differ: oracle's reading %s, lib %s (bits 0x%llx agree)",
                fname, what, oc_mode(m), r, inputs, or_flags_str(exp->flags, fe, sizeof fe),
                or_flags_str(flags, fa, sizeof fa), (unsigned long long)bits);
    }
    return 1;
}

/* SR draws worth trying for threshold th: both sides of it and the ends. */
static inline int oc_sr_draws(uint64_t th, uint64_t *rng, uint32_t out[6])
{
    int n = 0;
    out[n++] = 0;
    out[n++] = 0xffffffffu;
    if (th > 0 && th <= 0xffffffffull)
        out[n++] = (uint32_t)(th - 1);
    if (th <= 0xffffffffull)
        out[n++] = (uint32_t)th;
    if (th + 1 <= 0xffffffffull)
        out[n++] = (uint32_t)(th + 1);
    uint64_t z = (*rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    out[n++] = (uint32_t)(z ^ (z >> 31));
    return n;
}

#endif
