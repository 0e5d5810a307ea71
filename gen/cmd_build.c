/* cmd_build.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_build(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'build' is not implemented yet\n");
    return 1;
}
