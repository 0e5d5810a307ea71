/* cmd_report.c -- `numrep report DB -o report.html [--run ID]`: one
 * self-contained HTML file from a results store.  The options; the report
 * itself is runtime/study/report.c (gen_report_page finds its template). */
#include "cli.h"
#include "report_page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_text[] =
    "usage: numrep report DB -o REPORT.html [--run ID]\n"
    "\n"
    "Write one self-contained HTML report (no network needed to view it) from\n"
    "a results database written by 'numrep search': the chosen format with its\n"
    "accuracy, speedup and energy; accuracy heatmaps over exponent x mantissa\n"
    "bits and integer x fraction bits; the Pareto front of normalized accuracy\n"
    "against speedup and energy; R^2 against accuracy with the predictor's\n"
    "line; per-layer sensitivity; evaluation counts and times per method.\n"
    "\n"
    "options:\n"
    "  -o, --output FILE   where to write the report (required)\n"
    "  --run ID            report this run (default: the newest finished run,\n"
    "                      else the newest); other runs of the same network\n"
    "                      are compared with it\n"
    "  --help              this text\n"
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

static int parse_opts(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 1;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--output") || !strcmp(a, "--run")) {
            if (i + 1 >= argc)
                return cli_usage("report", "option %s needs a value", a);
            const char *v = argv[++i];
            if (a[1] == '-' && a[2] == 'r') {
                char *end;
                errno = 0;
                o->run = strtoll(v, &end, 10);
                if (!*v || *end || errno || o->run <= 0)
                    return cli_usage("report", "--run: \"%s\" is not a run id (a positive integer)",
                                     v);
            } else
                o->out = v;
        } else if (!strncmp(a, "--output=", 9))
            o->out = a + 9;
        else if (a[0] == '-' && a[1])
            return cli_usage("report", "unknown option \"%s\"", a);
        else if (o->db)
            return cli_usage("report", "one database expected, got \"%s\" and \"%s\"", o->db, a);
        else
            o->db = a;
    }
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
