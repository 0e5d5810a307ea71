/* cmd_import_raw.c -- placeholder until the subcommand lands. */
#include "cli.h"
#include <stdio.h>
int cmd_import_raw(int argc, char **argv)
{
    (void)argc; (void)argv;
    fprintf(stderr, "numrep: 'import_raw' is not implemented yet\n");
    return 1;
}
