/* cmd_emulate.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_emulate(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'emulate' is not implemented yet\n");
    return 1;
}
