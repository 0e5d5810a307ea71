/* cli_opts.c -- the command line of every subcommand from its option table
 * (gen/back/opts.h): argv in order, options and positional arguments mixed,
 * `--name VALUE`, `--name=VALUE`, `-o VALUE`, glued short values (-O2),
 * `--` ending the options, -h/--help printing the usage with the options
 * listed from the table; the usage errors name the option.  And the model
 * options every command that loads a network shares (cli_model_opts: -p
 * and gen/back/opts.c's gen_opts_model). */
#include "cli.h"
#include "model.h"

#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------------ model options */

const gen_opt cli_model_opts[] = {
    {.shrt = 'p', .kind = GEN_OPT_STR, .off = offsetof(cli_model_args, prec), .arg = "PREC",
     .help = "precision: a YAML file, or one format for every role\n"
             "(rounding rne, unfused MACs unless told otherwise)"},
    {.kind = GEN_OPT_TABLE, .sub = gen_opts_model, .off = offsetof(cli_model_args, mo)},
    {0}};

int cli_opts_extra_net(const char *cmd, const char *first, const char *arg)
{
    (void)first;
    return cli_usage(cmd, "unexpected argument \"%s\" (one NET.yaml only)", arg);
}

/* ------------------------------------------------------------------ --help */

static void help_rows(const cli_cmd *c, const gen_opt *t, FILE *f)
{
    int col = c->col ? c->col : 21;
    for (; t->kind != GEN_OPT_END; t++) {
        if (t->kind == GEN_OPT_TABLE && !t->help) {
            help_rows(c, t->sub, f);
            continue;
        }
        if (!t->help)
            continue;
        if (!*t->help) { /* a label alone */
            fprintf(f, "  %s\n", t->label);
            continue;
        }
        char label[64];
        if (t->label)
            snprintf(label, sizeof label, "%s", t->label);
        else
            snprintf(label, sizeof label, "%s%s%s%s", t->name ? "--" : "-",
                     t->name ? t->name : (char[]){t->shrt, 0}, t->arg ? " " : "",
                     t->arg ? t->arg : "");
        int n = fprintf(f, "  %s", label);
        const char *h = t->help;
        do {
            const char *nl = strchr(h, '\n');
            int len = nl ? (int)(nl - h) : (int)strlen(h);
            fprintf(f, "%*s%.*s\n", n < col ? col - n : 1, "", len, h);
            n = 0;
            h = nl ? nl + 1 : NULL;
        } while (h);
    }
}

void cli_opts_help(const cli_cmd *c, FILE *f)
{
    fputs(c->usage, f);
    help_rows(c, c->opts, f);
    if (c->list_help)
        fprintf(f, "  --help%*sthis text\n", (c->col ? c->col : 21) - 8, "");
    fputs(c->usage_end, f);
}

/* ------------------------------------------------------------------ parser */

static int unknown(const cli_cmd *c, const char *a)
{
    if (c->quote)
        return cli_usage(c->name, "unknown option %c%s%c", c->quote, a, c->quote);
    return cli_usage(c->name, "unknown option %s", a);
}

/* argv[*i], an option: set it (its value may be the next argument). */
static int option(const cli_cmd *c, int argc, char **argv, int *i, void *base)
{
    const char *a = argv[*i], *v = NULL, *eq = NULL;
    char as[64];
    size_t b = 0;
    const gen_opt *o;
    if (a[1] == '-') {
        eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        if (len >= sizeof as)
            return unknown(c, a);
        memcpy(as, a, len);
        as[len] = 0;
        o = gen_opts_find(c->opts, as + 2, 0, &b);
        if (!o || (eq && o->kind == GEN_OPT_FLAG))
            return unknown(c, a);
        v = eq ? eq + 1 : NULL;
    } else {
        o = gen_opts_find(c->opts, NULL, a[1], &b);
        if (!o || (a[2] && !o->attached))
            return unknown(c, a);
        snprintf(as, sizeof as, "-%c", a[1]);
        if (o->attached)
            v = a + 2;
    }
    if (o->kind != GEN_OPT_FLAG && !v && !o->attached)
        v = *i + 1 < argc ? argv[++*i] : NULL;
    if (o->kind != GEN_OPT_FLAG && !v)
        return cli_usage(c->name, "%s needs %s", as,
                         o->need ? o->need : c->need ? c->need : "an argument");
    if (o->once && o->kind == GEN_OPT_STR && *(const char **)((char *)base + b + o->off))
        return cli_usage(c->name, "%s given twice", as);
    nr_err e = {0};
    if (gen_opts_set(o, (char *)base + b, as, v, &e)) {
        if (o->bad) { /* the whole value, whatever its length */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
            return cli_usage(c->name, o->bad, as, v);
#pragma GCC diagnostic pop
        }
        char msg[sizeof e.msg + sizeof e.where + 4];
        nr_err_format(&e, msg, sizeof msg);
        return cli_usage(c->name, "%s", msg);
    }
    return 0;
}

int cli_opts_parse(const cli_cmd *c, int argc, char **argv, void *base, const char **pos)
{
    int npos = 0, opts = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && (!strcmp(a, "--help") || !strcmp(a, "-h"))) {
            cli_opts_help(c, stdout);
            return -1;
        }
        if (opts && !strcmp(a, "--")) {
            opts = 0;
        } else if (opts && a[0] == '-' && a[1]) {
            int rc = option(c, argc, argv, &i, base);
            if (rc)
                return rc;
        } else if (npos < c->npos) {
            pos[npos++] = a;
        } else if (c->extra) {
            return c->extra(c->name, pos[0], a);
        } else {
            return cli_usage(c->name, "unexpected argument \"%s\"", a);
        }
    }
    return 0;
}
