/* check_opts.c -- the option tables of gen/back/opts.h: finding rows by
 * long and short name through included tables, each kind's parsing and its
 * errors (hostile values included), the name=value form library callers
 * use, and the presence flags; and the CLI's progress lines on a stderr that
 * is not a terminal (gen/cli/cli_progress.c). */
#include "cli.h"
#include "opts.h"
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct inner {
    const char *prec;
    uint64_t bytes;
} inner;

typedef struct outer {
    const char *input;
    char db[8];
    long long jobs;
    uint64_t seed;
    int json, pack, have_seed, shout;
    inner in;
} outer;

static int set_shout(void *dst, const char *v, nr_err *err)
{
    if (strcmp(v, "HEY"))
        return nr_err_set(err, NR_ERANGE, NULL, 0, 0, "", "expected HEY");
    *(int *)dst = 1;
    return 0;
}

static const gen_opt inner_opts[] = {
    {.shrt = 'p', .kind = GEN_OPT_STR, .off = offsetof(inner, prec)},
    {.name = "max-memory", .kind = GEN_OPT_BYTES, .off = offsetof(inner, bytes)},
    {0}};

static const gen_opt outer_opts[] = {
    {.name = "input", .shrt = 'i', .kind = GEN_OPT_STR, .off = offsetof(outer, input)},
    {.name = "db", .kind = GEN_OPT_CHARS, .hi = 8, .off = offsetof(outer, db)},
    {.name = "jobs", .kind = GEN_OPT_COUNT, .lo = 1, .hi = 256, .off = offsetof(outer, jobs),
     .bad = "%s: expected 1 to 256, got \"%s\""},
    {.name = "seed", .kind = GEN_OPT_U64, .off = offsetof(outer, seed),
     .have = GEN_OPT_HAVE(outer, have_seed)},
    {.name = "json", .kind = GEN_OPT_FLAG, .off = offsetof(outer, json)},
    {.name = "pack", .kind = GEN_OPT_CHOICE, .choices = "container|dense",
     .off = offsetof(outer, pack)},
    {.name = "shout", .kind = GEN_OPT_FN, .fn = set_shout, .off = offsetof(outer, shout)},
    {.kind = GEN_OPT_TABLE, .sub = inner_opts, .off = offsetof(outer, in)},
    {0}};

static char msg[600];

/* Set name=value; the error as text ("" when none). */
static int set(outer *o, const char *name, const char *value)
{
    nr_err e = {0};
    int rc = gen_opts_set_named(outer_opts, o, name, value, &e);
    nr_err_format(&e, msg, sizeof msg);
    if (!rc)
        msg[0] = 0;
    return rc;
}

START_TEST(find_and_takes)
{
    size_t base = 0;
    const gen_opt *r = gen_opts_find(outer_opts, NULL, 'p', &base);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(base, offsetof(outer, in));
    base = 0;
    ck_assert_ptr_eq(gen_opts_find(outer_opts, NULL, 'i', &base), &outer_opts[0]);
    ck_assert_ptr_null(gen_opts_find(outer_opts, "nope", 0, &base));
    ck_assert_int_eq(gen_opts_takes(outer_opts, "jobs"), 1);
    ck_assert_int_eq(gen_opts_takes(outer_opts, "json"), 0);
    ck_assert_int_eq(gen_opts_takes(outer_opts, "max-memory"), 1);
    ck_assert_int_eq(gen_opts_takes(outer_opts, "bogus"), -1);
}
END_TEST

START_TEST(values)
{
    outer o = {0};
    ck_assert_int_eq(set(&o, "input", "x.npy"), 0);
    ck_assert_str_eq(o.input, "x.npy");
    ck_assert_int_eq(set(&o, "db", "a.db"), 0);
    ck_assert_str_eq(o.db, "a.db");
    ck_assert_int_eq(set(&o, "jobs", "256"), 0);
    ck_assert_int_eq(o.jobs, 256);
    ck_assert_int_eq(o.have_seed, 0);
    ck_assert_int_eq(set(&o, "seed", "0x10"), 0);
    ck_assert_uint_eq(o.seed, 16);
    ck_assert_int_eq(o.have_seed, 1);
    ck_assert_int_eq(set(&o, "json", NULL), 0);
    ck_assert_int_eq(o.json, 1);
    ck_assert_int_eq(set(&o, "pack", "dense"), 0);
    ck_assert_int_eq(o.pack, 1);
    ck_assert_int_eq(set(&o, "shout", "HEY"), 0);
    ck_assert_int_eq(o.shout, 1);
    ck_assert_int_eq(set(&o, "max-memory", "3K"), 0);
    ck_assert_uint_eq(o.in.bytes, 3072);
}
END_TEST

START_TEST(errors)
{
    outer o = {0};
    ck_assert_int_eq(set(&o, "bogus", "1"), -NR_ERANGE);
    ck_assert_str_eq(msg, "--bogus: unknown option");
    ck_assert_int_eq(set(&o, "jobs", NULL), -NR_ERANGE);
    ck_assert_str_eq(msg, "--jobs needs an argument");
    ck_assert_int_eq(set(&o, "jobs", "0"), -NR_ERANGE);
    ck_assert_str_eq(msg, "--jobs: expected 1 to 256, got \"0\"");
    ck_assert_int_eq(set(&o, "jobs", "2x"), -NR_ERANGE);
    ck_assert_int_eq(set(&o, "jobs", ""), -NR_ERANGE);
    ck_assert_int_eq(set(&o, "jobs", "99999999999999999999999"), -NR_ERANGE);
    ck_assert_int_eq(o.jobs, 0); /* a bad value leaves the option alone */
    ck_assert_int_eq(set(&o, "db", "12345678"), -NR_ERANGE);
    ck_assert_str_eq(msg, "--db: longer than 7 bytes");
    ck_assert_str_eq(o.db, "");
    ck_assert_int_eq(set(&o, "shout", "hey"), -NR_ERANGE);
    ck_assert_str_eq(msg, "--shout: expected HEY");
    ck_assert_int_eq(set(&o, "pack", "sparse"), -NR_ERANGE);
    ck_assert_str_eq(msg, "--pack: expected one of container|dense, got \"sparse\"");
    ck_assert_int_eq(o.pack, 0);
    /* u64: no sign, no leading blank (strtoull would wrap " -3") */
    ck_assert_int_eq(set(&o, "seed", "-3"), -NR_ERANGE);
    ck_assert_int_eq(set(&o, "seed", " -3"), -NR_ERANGE);
    ck_assert_int_eq(set(&o, "seed", "18446744073709551616"), -NR_ERANGE);
    ck_assert_str_eq(msg, "--seed: bad value \"18446744073709551616\"");
    ck_assert_int_eq(o.have_seed, 0);
    ck_assert_int_eq(set(&o, "max-memory", "12Q"), -NR_ERANGE);
    ck_assert_int_eq(set(&o, "max-memory", "17179869184T"), -NR_ERANGE);
    ck_assert_int_eq(set(&o, "max-memory", "1KB"), -NR_ERANGE);
}
END_TEST

START_TEST(long_value)
{
    /* the message of a very long bad value is cut to nr_err's size, never
     * overflowing it */
    outer o = {0};
    char *v = malloc(5000);
    ck_assert_ptr_nonnull(v);
    memset(v, '7', 4999);
    v[4999] = 0;
    ck_assert_int_eq(set(&o, "jobs", v), -NR_ERANGE);
    ck_assert_int_gt((int)strlen(msg), 100);
    free(v);
}
END_TEST

/* Log lines (stderr not a terminal, NUMREP_PROGRESS_SECONDS=0): every
 * update inside a phase, and its end once even when the count restarts
 * and reaches the end again without a line between (the search's batches
 * of R^2 runs printed "8/8" at every call). */
START_TEST(progress_lines)
{
    FILE *log = tmpfile();
    ck_assert(log);
    fflush(stderr);
    int saved = dup(2);
    ck_assert_int_ge(saved, 0);
    ck_assert_int_eq(dup2(fileno(log), 2), 2);
    setenv("NUMREP_PROGRESS_SECONDS", "0", 1);
    cli_progress p;
    cli_progress_init(&p, 1, NULL);
    cli_progress_update(&p, "sample", 1, 2); /* line */
    cli_progress_update(&p, "sample", 2, 2); /* the end: line */
    cli_progress_update(&p, "sample", 2, 2); /* the end again: none */
    cli_progress_update(&p, "sample", 2, 2); /* none */
    cli_progress_update(&p, "sample", 1, 2); /* a new batch: line */
    cli_progress_update(&p, "sample", 2, 2); /* its end: line */
    cli_progress_update(&p, "eval", 3, 3);   /* a phase that printed nothing: none */
    fflush(stderr);
    ck_assert_int_eq(dup2(saved, 2), 2);
    close(saved);
    unsetenv("NUMREP_PROGRESS_SECONDS");
    rewind(log);
    char line[256];
    int n = 0, ends = 0;
    while (fgets(line, sizeof line, log)) {
        ck_assert_msg(!strncmp(line, "numrep: sample: ", 16), "unexpected line: %s", line);
        n++;
        ends += strstr(line, " 2/2 after ") != NULL;
    }
    fclose(log);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(ends, 2);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("opts");
    TCase *tc = tcase_create("opts");
    tcase_add_test(tc, find_and_takes);
    tcase_add_test(tc, values);
    tcase_add_test(tc, errors);
    tcase_add_test(tc, long_value);
    tcase_add_test(tc, progress_lines);
    suite_add_tcase(s, tc);
    return tu_run(s);
}
