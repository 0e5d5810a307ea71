/* results.c -- the search's results store in SQLite (see results.h).
 *
 * Each table is described once, as a list of columns with the C field it
 * maps to (the `tables` below); the CREATE TABLE text, the upsert, the
 * lookups and the row readers are all generated from that list, so the
 * schema and the structs cannot drift apart.  Rows read back are checked
 * column by column (type, length, range) because the file is input like
 * any other and may have been written by something else. */
#include "results.h"

#include <sqlite3.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <time.h>

/* ------------------------------------------------------------ table descriptions */

typedef enum {
    C_TEXT, /* char[size], NOT NULL                                  */
    C_I64,  /* int64_t, NOT NULL                                     */
    C_INT,  /* int, NOT NULL                                         */
    C_REAL, /* double, NULL <-> NAN                                  */
    C_KIND, /* nr_results_kind stored as its name                       */
    C_COEF, /* nr_fit's ncoef + coef[], stored as "%.17g %.17g ..."   */
    C_F32S  /* nr_f32s, a BLOB of little-endian float32               */
} ctype;

typedef struct col {
    const char *name;
    ctype t;
    size_t off, size;
    int key; /* part of the table's natural key                     */
} col;

#define COL(S, name, t, field, key) {name, t, offsetof(S, field), sizeof(((S *)0)->field), key}

static const col eval_cols[] = {
    COL(nr_results_row, "run_id", C_I64, run_id, 0),
    COL(nr_results_row, "formats", C_TEXT, key.formats, 1),
    COL(nr_results_row, "rounding", C_TEXT, key.rounding, 1),
    COL(nr_results_row, "mac", C_TEXT, key.mac, 1),
    COL(nr_results_row, "layers", C_TEXT, key.layers, 1),
    COL(nr_results_row, "spec_hash", C_TEXT, key.spec_hash, 1),
    COL(nr_results_row, "weights_hash", C_TEXT, key.weights_hash, 1),
    COL(nr_results_row, "data_hash", C_TEXT, key.data_hash, 1),
    COL(nr_results_row, "data_first", C_I64, key.data_first, 1),
    COL(nr_results_row, "data_count", C_I64, key.data_count, 1),
    COL(nr_results_row, "kind", C_KIND, key.kind, 1),
    COL(nr_results_row, "n", C_I64, n, 0),
    COL(nr_results_row, "top1", C_REAL, top1, 0),
    COL(nr_results_row, "top5", C_REAL, top5, 0),
    COL(nr_results_row, "norm_acc", C_REAL, norm_acc, 0),
    COL(nr_results_row, "r2", C_REAL, r2, 0),
    COL(nr_results_row, "speedup", C_REAL, speedup, 0),
    COL(nr_results_row, "speedup_fixed_clock", C_REAL, speedup_fixed_clock, 0),
    COL(nr_results_row, "energy_ratio", C_REAL, energy_ratio, 0),
    COL(nr_results_row, "seconds", C_REAL, seconds, 0),
    COL(nr_results_row, "created", C_REAL, created, 0),
};

static const col run_cols[] = {
    COL(nr_run, "network", C_TEXT, network, 0),
    COL(nr_run, "spec_hash", C_TEXT, spec_hash, 0),
    COL(nr_run, "weights_hash", C_TEXT, weights_hash, 0),
    COL(nr_run, "data_hash", C_TEXT, data_hash, 0),
    COL(nr_run, "data_first", C_I64, data_first, 0),
    COL(nr_run, "data_count", C_I64, data_count, 0),
    COL(nr_run, "method", C_TEXT, method, 0),
    COL(nr_run, "budget", C_REAL, budget, 0),
    COL(nr_run, "fp32_top1", C_REAL, fp32_top1, 0),
    COL(nr_run, "fp32_top5", C_REAL, fp32_top5, 0),
    COL(nr_run, "started", C_REAL, started, 0),
    COL(nr_run, "finished", C_REAL, finished, 0),
    COL(nr_run, "chosen_eval", C_I64, chosen_eval, 0),
    COL(nr_run, "settings", C_TEXT, settings, 0),
};

static const col sens_cols[] = {
    COL(nr_sens, "run_id", C_I64, run_id, 1),
    COL(nr_sens, "layer", C_TEXT, layer, 1),
    COL(nr_sens, "layer_index", C_INT, layer_index, 0),
    COL(nr_sens, "macs", C_I64, macs, 0),
    COL(nr_sens, "formats", C_TEXT, formats, 1),
    COL(nr_sens, "n", C_I64, n, 0),
    COL(nr_sens, "top1", C_REAL, top1, 0),
    COL(nr_sens, "norm_acc", C_REAL, norm_acc, 0),
    COL(nr_sens, "r2", C_REAL, r2, 0),
    COL(nr_sens, "seconds", C_REAL, seconds, 0),
};

static const col fit_cols[] = {
    COL(nr_fit, "name", C_TEXT, name, 0),
    {"coef", C_COEF, 0, sizeof(nr_fit), 0},
    COL(nr_fit, "npoints", C_INT, npoints, 0),
    COL(nr_fit, "rmse", C_REAL, rmse, 0),
    COL(nr_fit, "networks", C_TEXT, networks, 0),
    COL(nr_fit, "created", C_REAL, created, 0),
};

static const col base_cols[] = {
    COL(nr_baseline, "spec_hash", C_TEXT, spec_hash, 1),
    COL(nr_baseline, "weights_hash", C_TEXT, weights_hash, 1),
    COL(nr_baseline, "data_hash", C_TEXT, data_hash, 1),
    COL(nr_baseline, "data_first", C_I64, data_first, 1),
    COL(nr_baseline, "data_count", C_I64, data_count, 1),
    COL(nr_baseline, "samples", C_INT, samples, 0),
    COL(nr_baseline, "sample_var", C_REAL, sample_var, 0),
    COL(nr_baseline, "correct", C_I64, correct, 0),
    COL(nr_baseline, "margin", C_F32S, margin, 0),
    COL(nr_baseline, "created", C_REAL, created, 0),
};

typedef struct table {
    const char *name;
    const col *cols;
    int ncols;
    size_t id_off; /* the int64_t id field of the struct            */
    const char *extra; /* indexes created with the table             */
} table;

enum { T_EVAL, T_RUN, T_SENS, T_FIT, T_BASE, T_COUNT };
#define NCOLS(a) ((int)(sizeof a / sizeof a[0]))
static const table tables[T_COUNT] = {
    [T_EVAL] = {"evaluations", eval_cols, NCOLS(eval_cols), offsetof(nr_results_row, id),
                "CREATE INDEX evaluations_net ON evaluations(spec_hash, weights_hash);"
                "CREATE INDEX evaluations_run ON evaluations(run_id);"},
    [T_RUN] = {"runs", run_cols, NCOLS(run_cols), offsetof(nr_run, id), ""},
    [T_SENS] = {"sensitivity", sens_cols, NCOLS(sens_cols), offsetof(nr_sens, id), ""},
    [T_FIT] = {"predictors", fit_cols, NCOLS(fit_cols), offsetof(nr_fit, id), ""},
    [T_BASE] = {"baselines", base_cols, NCOLS(base_cols), offsetof(nr_baseline, id), ""},
};

/* ------------------------------------------------------------ the handle */

/* Cached statements; S_EACH_* are prepared per call (callbacks may nest). */
enum { S_EVAL_PUT, S_EVAL_FIND, S_EVAL_GET, S_RUN_INS, S_RUN_UPD, S_RUN_GET, S_RUN_OPEN,
       S_SENS_PUT, S_FIT_INS, S_FIT_LATEST, S_BASE_PUT, S_BASE_FIND, S_COUNT };

struct nr_results {
    sqlite3 *db;
    char path[256];
    pthread_mutex_t mu; /* recursive: callbacks may call back in        */
    sqlite3_stmt *st[S_COUNT];
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* SQLite result code -> NR_E* code. */
static int nrcode(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_FORMAT:
        return NR_ECORRUPT;
    case SQLITE_NOMEM:
        return NR_ENOMEM;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_RANGE:
        return NR_ERANGE;
    case SQLITE_CANTOPEN:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        return NR_EIO;
    default:
        return NR_EINTERNAL;
    }
}

static int sqlerr(nr_results *r, int rc, const char *where, const char *doing, nr_err *err)
{
    const char *m = r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc);
    int code = nrcode(rc);
    if ((rc & 0xff) == SQLITE_NOTADB)
        return nr_err_set(err, code, r->path, 0, 0, where,
                          "not an SQLite database (%s) while %s; expected a numrep results store",
                          m, doing);
    return nr_err_set(err, code, r->path, 0, 0, where, "%s: %s (sqlite %s)", doing, m,
                      sqlite3_errstr(rc));
}

/* ------------------------------------------------------------ SQL text */

typedef struct sbuf {
    char s[4096];
    size_t n;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->s + b->n, sizeof b->s - b->n, fmt, ap);
    va_end(ap);
    /* the statements are built from the fixed tables above: a long one is our bug */
    if (k < 0 || (size_t)k >= sizeof b->s - b->n)
        b->n = sizeof b->s - 1;
    else
        b->n += (size_t)k;
}

static const char *sqltype(ctype t)
{
    switch (t) {
    case C_I64:
    case C_INT:
        return "INTEGER NOT NULL";
    case C_REAL:
        return "REAL";
    case C_F32S:
        return "BLOB NOT NULL";
    default:
        return "TEXT NOT NULL";
    }
}

static void create_sql(const table *t, sbuf *b)
{
    put(b, "CREATE TABLE %s(id INTEGER PRIMARY KEY", t->name);
    for (int i = 0; i < t->ncols; i++)
        put(b, ", %s %s", t->cols[i].name, sqltype(t->cols[i].t));
    int nkey = 0;
    for (int i = 0; i < t->ncols; i++)
        if (t->cols[i].key)
            put(b, "%s%s", nkey++ ? ", " : ", UNIQUE(", t->cols[i].name);
    put(b, "%s) STRICT;%s", nkey ? ")" : "", t->extra);
}

static void col_list(const table *t, sbuf *b)
{
    put(b, "id");
    for (int i = 0; i < t->ncols; i++)
        put(b, ", %s", t->cols[i].name);
}

static void select_sql(const table *t, sbuf *b, const char *tail)
{
    put(b, "SELECT ");
    col_list(t, b);
    put(b, " FROM %s %s", t->name, tail);
}

/* WHERE over the key columns, parameters ?1.. in column order. */
static void key_where(const table *t, sbuf *b)
{
    int k = 0;
    put(b, "WHERE ");
    for (int i = 0; i < t->ncols; i++)
        if (t->cols[i].key) {
            k++;
            put(b, "%s%s = ?%d", k > 1 ? " AND " : "", t->cols[i].name, k);
        }
}

/* INSERT of every column (parameters ?1..?ncols); with upsert, a row with
 * the same key is updated instead, and either way the id comes back. */
static void insert_sql(const table *t, sbuf *b, int upsert)
{
    put(b, "INSERT INTO %s(", t->name);
    for (int i = 0; i < t->ncols; i++)
        put(b, "%s%s", i ? ", " : "", t->cols[i].name);
    put(b, ") VALUES(");
    for (int i = 0; i < t->ncols; i++)
        put(b, "%s?%d", i ? ", " : "", i + 1);
    put(b, ")");
    if (upsert) {
        int k = 0;
        put(b, " ON CONFLICT(");
        for (int i = 0; i < t->ncols; i++)
            if (t->cols[i].key)
                put(b, "%s%s", k++ ? ", " : "", t->cols[i].name);
        put(b, ") DO UPDATE SET ");
        k = 0;
        for (int i = 0; i < t->ncols; i++)
            if (!t->cols[i].key)
                put(b, "%s%s = excluded.%s", k++ ? ", " : "", t->cols[i].name,
                    t->cols[i].name);
    }
    put(b, " RETURNING id");
}

static void update_sql(const table *t, sbuf *b)
{
    put(b, "UPDATE %s SET ", t->name);
    for (int i = 0; i < t->ncols; i++)
        put(b, "%s%s = ?%d", i ? ", " : "", t->cols[i].name, i + 1);
    put(b, " WHERE id = ?%d", t->ncols + 1);
}

/* ------------------------------------------------------------ binding and reading rows */

static int text_ok(const char *s, size_t size) { return memchr(s, 0, size) != NULL; }

static void f32_to_le(float x, unsigned char *b)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(u >> (8 * i));
}

static float f32_from_le(const unsigned char *b)
{
    uint32_t u = 0;
    for (int i = 0; i < 4; i++)
        u |= (uint32_t)b[i] << (8 * i);
    float x;
    memcpy(&x, &u, 4);
    return x;
}

/* Bind column c of row `base` to parameter `p`. */
static int bind_col(sqlite3_stmt *st, int p, const col *c, const void *base)
{
    const char *f = (const char *)base + c->off;
    switch (c->t) {
    case C_TEXT:
        return sqlite3_bind_text(st, p, f, -1, SQLITE_TRANSIENT);
    case C_I64:
        return sqlite3_bind_int64(st, p, *(const int64_t *)f);
    case C_INT:
        return sqlite3_bind_int(st, p, *(const int *)f);
    case C_REAL: {
        double v = *(const double *)f;
        return isnan(v) ? sqlite3_bind_null(st, p) : sqlite3_bind_double(st, p, v);
    }
    case C_KIND:
        return sqlite3_bind_text(st, p, nr_results_kind_name(*(const nr_results_kind *)f), -1,
                                 SQLITE_STATIC);
    case C_COEF: {
        const nr_fit *fit = base;
        char buf[NR_FIT_MAXCOEF * 26 + 1];
        size_t k = 0;
        buf[0] = 0;
        for (int i = 0; i < fit->ncoef; i++)
            k += (size_t)snprintf(buf + k, sizeof buf - k, "%s%.17g", i ? " " : "", fit->coef[i]);
        return sqlite3_bind_text(st, p, buf, -1, SQLITE_TRANSIENT);
    }
    case C_F32S: {
        const nr_f32s *a = (const nr_f32s *)f;
        if (a->n == 0)
            return sqlite3_bind_zeroblob(st, p, 0);
        size_t bytes = (size_t)a->n * 4;
        unsigned char *le = malloc(bytes);
        if (!le)
            return SQLITE_NOMEM;
        for (int64_t i = 0; i < a->n; i++)
            f32_to_le(a->v[i], le + 4 * i);
        return sqlite3_bind_blob64(st, p, le, bytes, free);
    }
    }
    return SQLITE_MISUSE;
}

/* Check the text fields before writing: unterminated arrays are a caller bug
 * that would otherwise read past the field. */
static int check_row(nr_results *r, const table *t, const void *base, nr_err *err)
{
    for (int i = 0; i < t->ncols; i++) {
        const col *c = &t->cols[i];
        const char *f = (const char *)base + c->off;
        if (c->t == C_TEXT && !text_ok(f, c->size))
            return nr_err_set(err, NR_ERANGE, r->path, 0, 0, t->name,
                              "field %s is not NUL-terminated within its %zu bytes", c->name,
                              c->size);
        if (c->t == C_KIND && (unsigned)*(const nr_results_kind *)f >= NR_RESULTS_KINDS)
            return nr_err_set(err, NR_ERANGE, r->path, 0, 0, t->name,
                              "kind %d is not an nr_results_kind", (int)*(const nr_results_kind *)f);
        if (c->t == C_F32S && (((const nr_f32s *)f)->n < 0 ||
                               (((const nr_f32s *)f)->n > 0 && !((const nr_f32s *)f)->v) ||
                               ((const nr_f32s *)f)->n > INT64_MAX / 8))
            return nr_err_set(err, NR_ERANGE, r->path, 0, 0, t->name,
                              "field %s: %lld floats without an array", c->name,
                              (long long)((const nr_f32s *)f)->n);
        if (c->t == C_COEF && (((const nr_fit *)base)->ncoef < 0 ||
                               ((const nr_fit *)base)->ncoef > NR_FIT_MAXCOEF))
            return nr_err_set(err, NR_ERANGE, r->path, 0, 0, t->name,
                              "ncoef %d outside 0..%d", ((const nr_fit *)base)->ncoef,
                              NR_FIT_MAXCOEF);
    }
    return 0;
}

static int bad_col(nr_results *r, const table *t, int64_t id, const col *c, nr_err *err,
                   const char *what)
{
    char where[96];
    snprintf(where, sizeof where, "%s row %lld", t->name, (long long)id);
    return nr_err_set(err, NR_ECORRUPT, r->path, 0, 0, where, "column %s: %s", c->name, what);
}

static int read_coef(nr_results *r, const table *t, int64_t id, const col *c, const char *s,
                     nr_fit *fit, nr_err *err)
{
    fit->ncoef = 0;
    for (;;) {
        while (*s == ' ')
            s++;
        if (!*s)
            return 0;
        if (fit->ncoef == NR_FIT_MAXCOEF)
            return bad_col(r, t, id, c, err, "more than NR_FIT_MAXCOEF coefficients");
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (end == s || (*end && *end != ' '))
            return bad_col(r, t, id, c, err, "expected numbers separated by spaces");
        fit->coef[fit->ncoef++] = v;
        s = end;
    }
}

/* Read result columns 0 (id) .. ncols into `base`, checking each. */
static int read_row(nr_results *r, const table *t, sqlite3_stmt *st, void *base, nr_err *err)
{
    if (sqlite3_column_type(st, 0) != SQLITE_INTEGER)
        return nr_err_set(err, NR_ECORRUPT, r->path, 0, 0, t->name, "row without an integer id");
    int64_t id = sqlite3_column_int64(st, 0);
    *(int64_t *)((char *)base + t->id_off) = id;
    for (int i = 0; i < t->ncols; i++) {
        const col *c = &t->cols[i];
        char *f = (char *)base + c->off;
        int ty = sqlite3_column_type(st, i + 1);
        switch (c->t) {
        case C_TEXT:
        case C_KIND:
        case C_COEF: {
            if (ty != SQLITE_TEXT)
                return bad_col(r, t, id, c, err, "expected text");
            const char *s = (const char *)sqlite3_column_text(st, i + 1);
            int n = sqlite3_column_bytes(st, i + 1);
            if (!s)
                return nr_err_set(err, NR_ENOMEM, r->path, 0, 0, t->name, "out of memory");
            if ((int)strlen(s) != n)
                return bad_col(r, t, id, c, err, "text contains a NUL byte");
            if (c->t == C_KIND) {
                nr_err e2 = {0};
                if (nr_results_kind_parse(s, (nr_results_kind *)f, &e2))
                    return bad_col(r, t, id, c, err, e2.msg);
            } else if (c->t == C_COEF) {
                int rc = read_coef(r, t, id, c, s, base, err);
                if (rc)
                    return rc;
            } else {
                if ((size_t)n >= c->size) {
                    char m[96];
                    snprintf(m, sizeof m, "text of %d bytes, at most %zu fit", n, c->size - 1);
                    return bad_col(r, t, id, c, err, m);
                }
                memcpy(f, s, (size_t)n + 1);
            }
            break;
        }
        case C_I64:
        case C_INT: {
            if (ty != SQLITE_INTEGER)
                return bad_col(r, t, id, c, err, "expected an integer");
            int64_t v = sqlite3_column_int64(st, i + 1);
            if (c->t == C_INT) {
                if (v < -2147483647 - 1 || v > 2147483647)
                    return bad_col(r, t, id, c, err, "integer out of int range");
                *(int *)f = (int)v;
            } else
                *(int64_t *)f = v;
            break;
        }
        case C_F32S: {
            nr_f32s *a = (nr_f32s *)f;
            a->v = NULL;
            a->n = 0;
            if (ty != SQLITE_BLOB)
                return bad_col(r, t, id, c, err, "expected a blob of float32");
            const unsigned char *b = sqlite3_column_blob(st, i + 1);
            int n = sqlite3_column_bytes(st, i + 1);
            if (n % 4)
                return bad_col(r, t, id, c, err, "blob length is not a multiple of 4");
            if (n == 0)
                break;
            if (!b || !(a->v = malloc((size_t)n)))
                return nr_err_set(err, NR_ENOMEM, r->path, 0, 0, t->name, "out of memory");
            a->n = n / 4;
            for (int64_t j = 0; j < a->n; j++)
                a->v[j] = f32_from_le(b + 4 * j);
            break;
        }
        case C_REAL:
            if (ty == SQLITE_NULL)
                *(double *)f = NAN;
            else if (ty == SQLITE_FLOAT || ty == SQLITE_INTEGER)
                *(double *)f = sqlite3_column_double(st, i + 1);
            else
                return bad_col(r, t, id, c, err, "expected a number or NULL");
            break;
        }
    }
    return 0;
}

/* Step a statement that returns at most one row into `base`: 1 row read,
 * 0 none, <0 error.  Resets the statement. */
static int step_one(nr_results *r, const table *t, sqlite3_stmt *st, void *base,
                    const char *doing, nr_err *err)
{
    int rc = sqlite3_step(st), ret;
    if (rc == SQLITE_ROW) {
        ret = read_row(r, t, st, base, err);
        if (ret == 0)
            ret = 1;
    } else if (rc == SQLITE_DONE)
        ret = 0;
    else
        ret = sqlerr(r, rc, t->name, doing, err);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

/* ------------------------------------------------------------ open */

static int exec(nr_results *r, const char *sql, const char *doing, nr_err *err)
{
    int rc = sqlite3_exec(r->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : sqlerr(r, rc, "open", doing, err);
}

static int pragma_int(nr_results *r, const char *sql, int64_t *v, nr_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(r->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlerr(r, rc, "open", sql, err);
    rc = sqlite3_step(st);
    *v = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sqlerr(r, rc, "open", sql, err);
}

/* PRAGMA quick_check: a damaged file is reported at open, not halfway
 * through a search.  Linear in the file size, which stays small. */
static int quick_check(nr_results *r, nr_err *err)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(r->db, "PRAGMA quick_check(1)", -1, &st, NULL);
    if (rc != SQLITE_OK)
        return sqlerr(r, rc, "open", "checking integrity", err);
    rc = sqlite3_step(st);
    int ret = 0;
    if (rc == SQLITE_ROW) {
        const char *s = (const char *)sqlite3_column_text(st, 0);
        if (!s || strcmp(s, "ok"))
            ret = nr_err_set(err, NR_ECORRUPT, r->path, 0, 0, "open",
                             "database is damaged: %s", s ? s : "(no detail)");
    } else
        ret = sqlerr(r, rc, "open", "checking integrity", err);
    sqlite3_finalize(st);
    return ret;
}

/* Inside BEGIN IMMEDIATE, so two processes creating one file at once
 * serialise here and the second finds the first's schema. */
static int create_schema(nr_results *r, nr_err *err)
{
    int64_t ntables;
    int rc = pragma_int(r, "SELECT count(*) FROM sqlite_schema", &ntables, err);
    if (rc)
        return rc;
    if (ntables > 0)
        return nr_err_set(err, NR_ECORRUPT, r->path, 0, 0, "open",
                          "an SQLite database of another program (it has tables but no "
                          "numrep schema version); expected a numrep results store");
    for (int i = 0; i < T_COUNT; i++) {
        sbuf b = {.n = 0};
        create_sql(&tables[i], &b);
        if ((rc = exec(r, b.s, "creating the schema", err)))
            return rc;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d; PRAGMA application_id = %d",
             NR_RESULTS_VERSION, NR_RESULTS_APP_ID);
    return exec(r, sql, "creating the schema", err);
}

static int check_ids(nr_results *r, int64_t app, int64_t ver, nr_err *err)
{
    if (app != NR_RESULTS_APP_ID && (app != 0 || ver != 0))
        return nr_err_set(err, NR_ECORRUPT, r->path, 0, 0, "open",
                          "an SQLite database of another program (application_id 0x%llx, "
                          "user_version %lld); expected a numrep results store",
                          (unsigned long long)app, (long long)ver);
    if (app == NR_RESULTS_APP_ID && (ver < 1 || ver > NR_RESULTS_VERSION))
        return nr_err_set(err, NR_EUNSUP, r->path, 0, 0, "open",
                          "results store of schema version %lld; this numrep reads version %d",
                          (long long)ver, NR_RESULTS_VERSION);
    return 0;
}

/* Inside the BEGIN IMMEDIATE of open.  Version 1 stored R^2 as 1 -
 * SS_res/SS_tot against the identity; version 2 stores the regression R^2
 * (nr_predictor_r2).  Full evaluations stay valid and keep their rows; the
 * R^2 sample runs, the R^2 copied into other rows and the lines fitted on
 * them go (a search recomputes the samples and refills a full row's R^2
 * when it finds the row). */
static int upgrade(nr_results *r, int64_t ver, nr_err *err)
{
    int rc = 0;
    if (ver <= 1)
        rc = exec(r,
                  "DELETE FROM evaluations WHERE kind = 'sample'; "
                  "UPDATE evaluations SET r2 = NULL; UPDATE sensitivity SET r2 = NULL; "
                  "DELETE FROM predictors",
                  "upgrading a version 1 store (new R^2)", err);
    if (!rc && ver <= 2) { /* 3: the baselines table */
        sbuf b = {.n = 0};
        create_sql(&tables[T_BASE], &b);
        rc = exec(r, b.s, "upgrading a version 2 store (baselines)", err);
    }
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", NR_RESULTS_VERSION);
    return rc ? rc : exec(r, sql, "upgrading the store", err);
}

static int prepare(nr_results *r, int which, const char *sql, nr_err *err)
{
    int rc = sqlite3_prepare_v3(r->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &r->st[which], NULL);
    if (rc == SQLITE_OK)
        return 0;
    return nr_err_set(err, nrcode(rc) == NR_EINTERNAL ? NR_ECORRUPT : nrcode(rc), r->path, 0, 0,
                      "open", "schema does not match version %d: %s", NR_RESULTS_VERSION,
                      sqlite3_errmsg(r->db));
}

static int prepare_all(nr_results *r, nr_err *err)
{
    const table *te = &tables[T_EVAL], *tr = &tables[T_RUN], *ts = &tables[T_SENS],
                *tf = &tables[T_FIT];
    sbuf b[S_COUNT];
    for (int i = 0; i < S_COUNT; i++)
        b[i].n = 0, b[i].s[0] = 0;
    insert_sql(te, &b[S_EVAL_PUT], 1);
    select_sql(te, &b[S_EVAL_FIND], "");
    key_where(te, &b[S_EVAL_FIND]);
    select_sql(te, &b[S_EVAL_GET], "WHERE id = ?1");
    insert_sql(tr, &b[S_RUN_INS], 0);
    update_sql(tr, &b[S_RUN_UPD]);
    select_sql(tr, &b[S_RUN_GET], "WHERE id = ?1");
    select_sql(tr, &b[S_RUN_OPEN],
               "WHERE finished IS NULL AND network = ?1 AND spec_hash = ?2 AND weights_hash = ?3 "
               "AND data_hash = ?4 AND data_first = ?5 AND data_count = ?6 AND method = ?7 "
               "AND budget IS ?8 ORDER BY id DESC LIMIT 1");
    insert_sql(ts, &b[S_SENS_PUT], 1);
    insert_sql(tf, &b[S_FIT_INS], 0);
    select_sql(tf, &b[S_FIT_LATEST], "WHERE ?1 IS NULL OR name = ?1 ORDER BY id DESC LIMIT 1");
    insert_sql(&tables[T_BASE], &b[S_BASE_PUT], 1);
    select_sql(&tables[T_BASE], &b[S_BASE_FIND], "");
    key_where(&tables[T_BASE], &b[S_BASE_FIND]);
    for (int i = 0; i < S_COUNT; i++) {
        int rc = prepare(r, i, b[i].s, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int open_impl(const char *path, int create, nr_results **out, nr_err *err)
{
    *out = NULL;
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (!exists && !create)
        return nr_err_set(err, NR_EIO, path, 0, 0, "open", "no such file (%s)", strerror(errno));
    if (exists && !S_ISREG(sb.st_mode))
        return nr_err_set(err, NR_EIO, path, 0, 0, "open", "not a regular file");

    nr_results *r = calloc(1, sizeof *r);
    if (!r)
        return nr_err_set(err, NR_ENOMEM, path, 0, 0, "open", "out of memory");
    snprintf(r->path, sizeof r->path, "%s", path);
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&r->mu, &ma);
    pthread_mutexattr_destroy(&ma);

    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(path, &r->db, flags, NULL);
    int64_t app = 0, ver = 0, mode_ok = 0;
    if (rc != SQLITE_OK) {
        rc = nr_err_set(err, NR_EIO, path, 0, 0, "open", "cannot open: %s",
                        r->db ? sqlite3_errmsg(r->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_extended_result_codes(r->db, 1);
    sqlite3_busy_timeout(r->db, NR_RESULTS_BUSY_MS);
    /* Look before changing anything: never switch someone else's file to WAL.
     * (Read outside a transaction, the ids of a file another process is
     * creating can look foreign for a moment: look again for up to 1 s.) */
    for (int tries = 0;; tries++) {
        if ((rc = pragma_int(r, "PRAGMA application_id", &app, err)) ||
            (rc = pragma_int(r, "PRAGMA user_version", &ver, err)))
            goto fail;
        if (!(rc = check_ids(r, app, ver, err)))
            break;
        if (tries == 100)
            goto fail;
        memset(err, 0, sizeof *err);
        nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
    }
    if (exists && sb.st_size > 0 && (rc = quick_check(r, err)))
        goto fail;
    /* WAL: a writer never blocks readers (the report can run during a
     * search) and a commit is one append.  FULL syncs the WAL at every
     * commit, so a finished evaluation survives power loss, not only kill. */
    /* Two processes creating one file at once: the switch needs the file to
     * itself, and SQLite may answer SQLITE_BUSY at once, without calling the
     * busy handler (to avoid a deadlock), so wait here as the handler would. */
    for (int waited = 0;; waited += 10) {
        sqlite3_stmt *st;
        rc = sqlite3_prepare_v2(r->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
        if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
            mode_ok = !sqlite3_stricmp((const char *)sqlite3_column_text(st, 0), "wal");
        rc = sqlite3_finalize(st);
        if ((rc & 0xff) == SQLITE_BUSY && waited < NR_RESULTS_BUSY_MS) {
            nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
            continue;
        }
        if (rc != SQLITE_OK) {
            rc = sqlerr(r, rc, "open", "switching to WAL mode", err);
            goto fail;
        }
        if (!mode_ok) {
            rc = nr_err_set(err, NR_EIO, path, 0, 0, "open",
                            "cannot use WAL journal mode (file system without shared memory?)");
            goto fail;
        }
        break;
    }
    if ((rc = exec(r, "PRAGMA synchronous = FULL", "setting synchronous", err)) ||
        (rc = exec(r, "BEGIN IMMEDIATE", "locking to check the schema", err)))
        goto fail;
    if ((rc = pragma_int(r, "PRAGMA application_id", &app, err)) ||
        (rc = pragma_int(r, "PRAGMA user_version", &ver, err)) ||
        (rc = check_ids(r, app, ver, err)) ||
        (ver == 0 && (rc = create_schema(r, err))) ||
        (ver > 0 && ver < NR_RESULTS_VERSION && (rc = upgrade(r, ver, err)))) {
        sqlite3_exec(r->db, "ROLLBACK", NULL, NULL, NULL);
        goto fail;
    }
    if ((rc = exec(r, "COMMIT", "creating the schema", err)) || (rc = prepare_all(r, err)))
        goto fail;
    *out = r;
    return 0;
fail:
    nr_results_close(r);
    return rc < 0 ? rc : -NR_EINTERNAL;
}

int nr_results_open(const char *path, nr_results **out, nr_err *err)
{
    return open_impl(path, 1, out, err);
}

int nr_results_open_existing(const char *path, nr_results **out, nr_err *err)
{
    return open_impl(path, 0, out, err);
}

void nr_results_close(nr_results *r)
{
    if (!r)
        return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(r->st[i]);
    sqlite3_close(r->db); /* statements are finalised: cannot be busy */
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* ------------------------------------------------------------ hashing */

int nr_results_hash_file(const char *path, char out[NR_HASH_HEX], nr_err *err)
{
    nr_hash128 h;
    int rc = nr_hash_file(path, NULL, &h, err);
    if (!rc)
        nr_hash128_hex(&h, out);
    return rc;
}

/* ------------------------------------------------------------ evaluations */

static const char *const kind_names[NR_RESULTS_KINDS] = {"full", "sample"};

const char *nr_results_kind_name(nr_results_kind k)
{
    return (unsigned)k < NR_RESULTS_KINDS ? kind_names[k] : "?";
}

int nr_results_kind_parse(const char *s, nr_results_kind *out, nr_err *err)
{
    for (int i = 0; i < NR_RESULTS_KINDS; i++)
        if (!strcmp(s, kind_names[i])) {
            *out = (nr_results_kind)i;
            return 0;
        }
    return nr_err_set(err, NR_ESYNTAX, NULL, 0, 0, "kind", "\"%.40s\": expected full or sample",
                      s);
}

void nr_results_row_init(nr_results_row *e)
{
    memset(e, 0, sizeof *e);
    e->top1 = e->top5 = e->norm_acc = e->r2 = NAN;
    e->speedup = e->speedup_fixed_clock = e->energy_ratio = e->seconds = NAN;
}

static int bind_all(nr_results *r, const table *t, sqlite3_stmt *st, const void *base,
                    int keys_only, nr_err *err)
{
    int p = 0;
    for (int i = 0; i < t->ncols; i++) {
        if (keys_only && !t->cols[i].key)
            continue;
        int rc = bind_col(st, ++p, &t->cols[i], base);
        if (rc != SQLITE_OK)
            return sqlerr(r, rc, t->name, "binding a value", err);
    }
    return 0;
}

/* Insert (or upsert) `base` with the statement `which`; sets its id. */
static int insert_row(nr_results *r, int which, const table *t, void *base, nr_err *err)
{
    int rc = check_row(r, t, base, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    sqlite3_stmt *st = r->st[which];
    if (!(rc = bind_all(r, t, st, base, 0, err))) {
        int s = sqlite3_step(st);
        if (s == SQLITE_ROW) {
            *(int64_t *)((char *)base + t->id_off) = sqlite3_column_int64(st, 0);
            s = sqlite3_step(st); /* runs the statement to completion: commits */
        }
        if (s != SQLITE_DONE)
            rc = sqlerr(r, s, t->name, "writing a row", err);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int nr_results_put_eval(nr_results *r, nr_results_row *row, nr_err *err)
{
    if (!row->key.formats[0])
        return nr_err_set(err, NR_ERANGE, r->path, 0, 0, "evaluations",
                          "empty formats: every evaluation names its format(s)");
    if (row->created == 0)
        row->created = now();
    return insert_row(r, S_EVAL_PUT, &tables[T_EVAL], row, err);
}

/* The row of table t whose key columns equal probe's, with the statement
 * `which` (select_sql + key_where): 1 read into row, 0 none, <0 error. */
static int find_by_key(nr_results *r, int which, const table *t, const void *probe, void *row,
                       const char *doing, nr_err *err)
{
    int rc = check_row(r, t, probe, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    rc = bind_all(r, t, r->st[which], probe, 1, err);
    if (!rc)
        rc = step_one(r, t, r->st[which], row, doing, err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int nr_results_find_eval(nr_results *r, const nr_results_key *key, nr_results_row *row, nr_err *err)
{
    nr_results_row probe;
    nr_results_row_init(&probe);
    probe.key = *key;
    return find_by_key(r, S_EVAL_FIND, &tables[T_EVAL], &probe, row, "looking up an evaluation",
                       err);
}

static int get_by_id(nr_results *r, int which, const table *t, int64_t id, void *row,
                     nr_err *err)
{
    pthread_mutex_lock(&r->mu);
    sqlite3_bind_int64(r->st[which], 1, id);
    int rc = step_one(r, t, r->st[which], row, "reading a row", err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int nr_results_get_eval(nr_results *r, int64_t id, nr_results_row *row, nr_err *err)
{
    return get_by_id(r, S_EVAL_GET, &tables[T_EVAL], id, row, err);
}

/* The typed callback of an each_* call; `call` knows which member to use. */
typedef struct visit {
    int (*call)(const struct visit *v, const void *row);
    nr_eval_fn eval;
    nr_run_fn run;
    nr_sens_fn sens;
    void *ctx;
} visit;

static int call_eval(const visit *v, const void *row) { return v->eval(row, v->ctx); }
static int call_run(const visit *v, const void *row) { return v->run(row, v->ctx); }
static int call_sens(const visit *v, const void *row) { return v->sens(row, v->ctx); }

/* Run a one-off SELECT and hand each row (read into a scratch struct of
 * `size` bytes) to the visitor. */
static int each_row(nr_results *r, const table *t, const char *tail,
                    int (*bind)(sqlite3_stmt *, const void *), const void *bctx, size_t size,
                    const visit *v, nr_err *err)
{
    sbuf b = {.n = 0};
    select_sql(t, &b, tail);
    void *row = malloc(size);
    if (!row)
        return nr_err_set(err, NR_ENOMEM, r->path, 0, 0, t->name, "out of memory");
    pthread_mutex_lock(&r->mu);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(r->db, b.s, -1, &st, NULL);
    if (rc != SQLITE_OK)
        rc = sqlerr(r, rc, t->name, "querying", err);
    else if ((rc = bind ? bind(st, bctx) : SQLITE_OK) != SQLITE_OK)
        rc = sqlerr(r, rc, t->name, "binding a value", err);
    else {
        int s;
        while ((s = sqlite3_step(st)) == SQLITE_ROW) {
            memset(row, 0, size);
            if ((rc = read_row(r, t, st, row, err)) || (rc = v->call(v, row)))
                break;
        }
        if (!rc && s != SQLITE_DONE)
            rc = sqlerr(r, s, t->name, "reading rows", err);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&r->mu);
    free(row);
    return rc;
}

static int bind_eval_filter(sqlite3_stmt *st, const void *p)
{
    const nr_eval_filter *f = p;
    int rc = sqlite3_bind_int64(st, 1, f->run_id);
    if (!rc && f->spec_hash)
        rc = sqlite3_bind_text(st, 2, f->spec_hash, -1, SQLITE_STATIC);
    if (!rc && f->weights_hash)
        rc = sqlite3_bind_text(st, 3, f->weights_hash, -1, SQLITE_STATIC);
    if (!rc && f->kind >= 0)
        rc = sqlite3_bind_text(st, 4, nr_results_kind_name((nr_results_kind)f->kind), -1,
                               SQLITE_STATIC);
    return rc;
}

int nr_results_each_eval(nr_results *r, const nr_eval_filter *f, nr_eval_fn fn, void *ctx,
                         nr_err *err)
{
    static const nr_eval_filter all = NR_RESULTS_FILTER_ALL;
    return each_row(r, &tables[T_EVAL],
                    "WHERE (?1 = 0 OR run_id = ?1) AND (?2 IS NULL OR spec_hash = ?2) "
                    "AND (?3 IS NULL OR weights_hash = ?3) AND (?4 IS NULL OR kind = ?4) "
                    "ORDER BY id",
                    bind_eval_filter, f ? f : &all, sizeof(nr_results_row),
                    &(visit){.call = call_eval, .eval = fn, .ctx = ctx}, err);
}

/* ------------------------------------------------------------ runs */

void nr_results_run_init(nr_run *run)
{
    memset(run, 0, sizeof *run);
    run->budget = run->fp32_top1 = run->fp32_top5 = run->finished = NAN;
    run->started = now();
}

int nr_results_put_run(nr_results *r, nr_run *run, nr_err *err)
{
    const table *t = &tables[T_RUN];
    if (run->id == 0)
        return insert_row(r, S_RUN_INS, t, run, err);
    int rc = check_row(r, t, run, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    sqlite3_stmt *st = r->st[S_RUN_UPD];
    if (!(rc = bind_all(r, t, st, run, 0, err))) {
        sqlite3_bind_int64(st, t->ncols + 1, run->id);
        int s = sqlite3_step(st);
        if (s != SQLITE_DONE)
            rc = sqlerr(r, s, t->name, "updating a run", err);
        else if (sqlite3_changes(r->db) != 1)
            rc = nr_err_set(err, NR_ERANGE, r->path, 0, 0, "runs", "no run with id %lld",
                            (long long)run->id);
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int nr_results_get_run(nr_results *r, int64_t id, nr_run *run, nr_err *err)
{
    return get_by_id(r, S_RUN_GET, &tables[T_RUN], id, run, err);
}

int nr_results_find_open_run(nr_results *r, const nr_run *like, nr_run *run, nr_err *err)
{
    const table *t = &tables[T_RUN];
    int rc = check_row(r, t, like, err);
    if (rc)
        return rc;
    pthread_mutex_lock(&r->mu);
    sqlite3_stmt *st = r->st[S_RUN_OPEN];
    const char *txt[] = {like->network, like->spec_hash, like->weights_hash, like->data_hash};
    for (int i = 0; i < 4; i++)
        sqlite3_bind_text(st, i + 1, txt[i], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, like->data_first);
    sqlite3_bind_int64(st, 6, like->data_count);
    sqlite3_bind_text(st, 7, like->method, -1, SQLITE_STATIC);
    if (!isnan(like->budget))
        sqlite3_bind_double(st, 8, like->budget);
    rc = step_one(r, t, st, run, "looking up an unfinished run", err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

int nr_results_each_run(nr_results *r, nr_run_fn fn, void *ctx, nr_err *err)
{
    return each_row(r, &tables[T_RUN], "ORDER BY id", NULL, NULL, sizeof(nr_run),
                    &(visit){.call = call_run, .run = fn, .ctx = ctx}, err);
}

/* ------------------------------------------------------------ sensitivity */

void nr_results_sens_init(nr_sens *s)
{
    memset(s, 0, sizeof *s);
    s->top1 = s->norm_acc = s->r2 = s->seconds = NAN;
}

int nr_results_put_sens(nr_results *r, nr_sens *row, nr_err *err)
{
    return insert_row(r, S_SENS_PUT, &tables[T_SENS], row, err);
}

static int bind_run_id(sqlite3_stmt *st, const void *p)
{
    return sqlite3_bind_int64(st, 1, *(const int64_t *)p);
}

int nr_results_each_sens(nr_results *r, int64_t run_id, nr_sens_fn fn, void *ctx, nr_err *err)
{
    return each_row(r, &tables[T_SENS],
                    "WHERE ?1 = 0 OR run_id = ?1 ORDER BY run_id, layer_index, id", bind_run_id,
                    &run_id, sizeof(nr_sens),
                    &(visit){.call = call_sens, .sens = fn, .ctx = ctx}, err);
}

/* ------------------------------------------------------------ predictor fits */

int nr_results_put_fit(nr_results *r, nr_fit *fit, nr_err *err)
{
    if (fit->created == 0)
        fit->created = now();
    return insert_row(r, S_FIT_INS, &tables[T_FIT], fit, err);
}

int nr_results_latest_fit(nr_results *r, const char *name, nr_fit *fit, nr_err *err)
{
    pthread_mutex_lock(&r->mu);
    sqlite3_stmt *st = r->st[S_FIT_LATEST];
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = step_one(r, &tables[T_FIT], st, fit, "reading a predictor fit", err);
    pthread_mutex_unlock(&r->mu);
    return rc;
}

/* ------------------------------------------------------------ baselines */

int nr_results_put_baseline(nr_results *r, nr_baseline *b, nr_err *err)
{
    if (b->margin.n != b->data_count)
        return nr_err_set(err, NR_ERANGE, r->path, 0, 0, "baselines",
                          "%lld margins for a slice of %lld samples",
                          (long long)b->margin.n, (long long)b->data_count);
    if (b->created == 0)
        b->created = now();
    return insert_row(r, S_BASE_PUT, &tables[T_BASE], b, err);
}

void nr_results_baseline_key(nr_baseline *b, const char *spec_hash, const char *weights_hash,
                     const char *data_hash, int64_t data_first, int64_t data_count)
{
    memset(b, 0, sizeof *b);
    snprintf(b->spec_hash, NR_HASH_HEX, "%s", spec_hash);
    snprintf(b->weights_hash, NR_HASH_HEX, "%s", weights_hash);
    snprintf(b->data_hash, NR_HASH_HEX, "%s", data_hash);
    b->data_first = data_first;
    b->data_count = data_count;
}

int nr_results_find_baseline(nr_results *r, const nr_baseline *key, nr_baseline *out,
                             nr_err *err)
{
    nr_baseline probe;
    nr_results_baseline_key(&probe, key->spec_hash, key->weights_hash, key->data_hash, key->data_first,
                    key->data_count);
    memset(out, 0, sizeof *out);
    int rc = find_by_key(r, S_BASE_FIND, &tables[T_BASE], &probe, out, "looking up a baseline",
                         err);
    if (rc == 1 && out->margin.n != out->data_count) {
        rc = nr_err_set(err, NR_ECORRUPT, r->path, 0, 0, "baselines",
                        "row %lld: %lld margins for a slice of %lld samples", (long long)out->id,
                        (long long)out->margin.n, (long long)out->data_count);
    }
    if (rc != 1)
        nr_results_baseline_free(out);
    return rc;
}

void nr_results_baseline_free(nr_baseline *b)
{
    if (!b)
        return;
    free(b->margin.v);
    b->margin.v = NULL;
    b->margin.n = 0;
}
