/* cmd_run.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_run(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'run' is not implemented yet\n");
    return 1;
}
