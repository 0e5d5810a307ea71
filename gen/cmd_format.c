/* cmd_format.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_format(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'format' is not implemented yet\n");
    return 1;
}
