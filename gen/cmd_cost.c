/* cmd_cost.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_cost(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'cost' is not implemented yet\n");
    return 1;
}
