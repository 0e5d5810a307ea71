/* main.c -- the numrep command: dispatch to a subcommand. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
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
