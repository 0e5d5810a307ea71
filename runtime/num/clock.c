/* clock.c -- the clocks every timing in numrep reads, one definition each:
 * wall time for intervals (monotonic), calendar time for time stamps, and
 * CPU time of the process or of the calling thread, all in seconds as a
 * double (numrep.h).  Benchmarks report ratios of two such readings taken
 * in one run, never absolute times. */
#include "numrep.h"

#include <time.h>

static double seconds(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

double nr_clock_wall(void) { return seconds(CLOCK_MONOTONIC); }

double nr_clock_real(void) { return seconds(CLOCK_REALTIME); }

double nr_clock_cpu(void) { return seconds(CLOCK_PROCESS_CPUTIME_ID); }

double nr_clock_thread_cpu(void) { return seconds(CLOCK_THREAD_CPUTIME_ID); }
