/* main.c -- the numrep command: dispatch to a subcommand. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct {
    int (*fn)(int, char **);
    const char *name, *help;
} commands[] = {
#define X(fn, name, help) {fn, name, help},
    CLI_COMMANDS(X)
#undef X
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *to)
{
    fprintf(to, "usage: numrep COMMAND [ARGS]\n\ncommands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(to, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(to, "\n'numrep COMMAND --help' describes one command.\n");
}

int cli_error(const nr_err *e)
{
    char buf[1024];
    nr_err_format(e, buf, sizeof buf);
    fprintf(stderr, "numrep: %s\n", buf);
    return 1;
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "numrep %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'numrep %s --help')\n", cmd);
    return 2;
}

/* `numrep version` (and --version): the version, then each run-time
 * resource's path and which step of the lookup (paths.h) found it, so a
 * user can see whether an install or the build tree is in use. */
int cmd_version(int argc, char **argv)
{
    if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        printf("usage: numrep version\n\nThe version, then one line per resource: name, path, where "
               "it was found.\nEach is looked for in its environment variable, then under the "
               "install\nprefix of this binary (PREFIX/bin/numrep), then in the build tree.\n");
        return 0;
    }
    if (argc > 1)
        return cli_usage("version", "unexpected argument '%s'", argv[1]);
    char prefix[4096];
    gen_res_install_prefix(prefix, sizeof prefix);
    printf("numrep %s\n", NUMREP_VERSION);
    printf("%-12s %s\n", "prefix", prefix[0] ? prefix : "(not installed: no bin/ directory)");
    for (int r = 0; r < GEN_RES_COUNT; r++) {
        char path[4096], msg[1024];
        const char *origin;
        nr_err e = {0};
        if (gen_res_find((gen_res)r, path, sizeof path, &origin, &e) == 0) {
            /* a variable is taken on trust (paths.h): say when it is wrong */
            printf("%-12s %s (%s)%s\n", gen_res_name((gen_res)r), path, origin,
                   access(path, R_OK) ? " -- not readable" : "");
        } else {
            nr_err_format(&e, msg, sizeof msg);
            printf("%-12s missing: %s\n", gen_res_name((gen_res)r), msg);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--version"))
        return cmd_version(argc - 1, argv + 1);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "numrep: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
