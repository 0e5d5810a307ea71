/* hosted_io.c -- edge_io.h on an operating system (stdio), for running
 * harness.c on Linux targets and on the build machine. */
#include "edge_io.h"

#include <stdio.h>
#include <stdlib.h>

void edge_io_puts(const char *s)
{
    fputs(s, stdout);
}

void edge_io_exit(int status)
{
    fflush(stdout);
    exit(status);
}
