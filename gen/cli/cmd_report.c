/* cmd_report.c -- `numrep report DB -o report.html [--run ID]`: one
 * self-contained HTML file from a results store.  The options; the report
 * itself is runtime/study/report.c (gen_report_page finds its template). */
#include "cli.h"
#include "report_page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_head[] =
    "usage: numrep report DB -o REPORT.html [--run ID]\n"
    "\n"
    "Write one self-contained HTML report (no network needed to view it) from\n"
    "a results database written by 'numrep search': the chosen format with its\n"
    "accuracy, speedup and energy; accuracy heatmaps over exponent x mantissa\n"
    "bits and integer x fraction bits; the Pareto front of normalized accuracy\n"
    "against speedup and energy; R^2 against accuracy with the predictor's\n"
    "line; per-layer sensitivity; evaluation counts and times per method.\n"
    "\n"
    "options:\n";

static const char usage_end[] =
    "\n"
    "The page is templates/report.html.in: NUMREP_TEMPLATES (or the older\n"
    "NUMREP_TEMPLATE_DIR) overrides the directory, else the install's\n"
    "share/numrep/templates, else the source tree's ('numrep version' shows it).\n"
    "\n"
    "exit status: 0 ok, 1 unreadable database or nothing to report, 2 usage error\n";

typedef struct opts {
    const char *db, *out;
    long long run;
} opts;

static int extra(const char *cmd, const char *first, const char *arg)
{
    return cli_usage(cmd, "one database expected, got \"%s\" and \"%s\"", first, arg);
}

static const gen_opt report_table[] = {
    {.name = "output", .shrt = 'o', .kind = GEN_OPT_STR, .off = offsetof(opts, out),
     .label = "-o, --output FILE", .help = "where to write the report (required)"},
    {.name = "run", .kind = GEN_OPT_COUNT, .lo = 1, .hi = INT64_MAX, .off = offsetof(opts, run),
     .arg = "ID", .bad = "%s: \"%s\" is not a run id (a positive integer)",
     .help = "report this run (default: the newest finished run,\n"
             "else the newest); other runs of the same network\n"
             "are compared with it"},
    {0}};

static const cli_cmd report_cmd = {
    .name = "report",
    .opts = report_table,
    .usage = usage_head,
    .usage_end = usage_end,
    .col = 22,
    .list_help = 1,
    .quote = '"',
    .need = "a value",
    .npos = 1,
    .extra = extra,
};

static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    int rc = cli_opts_parse(&report_cmd, argc, argv, o, &o->db);
    if (rc)
        return rc < 0 ? 1 : rc;
    if (!o->db)
        return cli_usage("report", "missing DB (a results database written by numrep search)");
    if (!o->out)
        return cli_usage("report", "missing -o REPORT.html");
    return 0;
}

int cmd_report(int argc, char **argv)
{
    opts o;
    int st = parse_opts(argc, argv, &o);
    if (st)
        return st == 1 ? 0 : st;
    nr_err err = {0};
    nr_run run;
    if (gen_report_page(o.db, o.run, o.out, &run, &err))
        return cli_error(&err);
    printf("wrote %s (run %lld: %s, %s)\n", o.out, (long long)run.id, run.network, run.method);
    return 0;
}
