/* cmd_round.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_round(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'round' is not implemented yet\n");
    return 1;
}
