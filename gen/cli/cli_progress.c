/* cli_progress.c -- the one progress reporter of the long-running commands
 * (eval, search).  On a terminal it redraws a bar at most every 0.2 s; when
 * stderr is not a terminal (a log file, CI, mpirun) it prints a plain line at
 * every 10 s once a phase has run that long, and one when such a phase
 * ends, so a log shows that work is going on without filling up (and a
 * short run prints nothing).  NUMREP_PROGRESS_SECONDS sets that interval. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) { return nr_clock_wall(); }

void cli_progress_init(cli_progress *p, int on, const char *unit)
{
    memset(p, 0, sizeof *p);
    p->on = on;
    p->tty = isatty(2);
    p->unit = unit;
    /* NUMREP_PROGRESS_SECONDS: the log interval (tests set 0) */
    const char *e = getenv("NUMREP_PROGRESS_SECONDS");
    char *end;
    double v = e ? strtod(e, &end) : 10.0;
    p->interval = e && end != e && !*end && v >= 0 && v <= 86400 ? v : 10.0;
}

static void draw_bar(const cli_progress *p, double el, double eta, int64_t done, int64_t total)
{
    int w = 24, fill = total ? (int)((double)w * (double)done / (double)total) : w;
    fprintf(stderr, "\r%-22.22s [", p->phase);
    for (int i = 0; i < w; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld", (long long)done, (long long)total);
    if (p->unit)
        fprintf(stderr, "  %.1f %s/s", el > 0 ? (double)done / el : 0.0, p->unit);
    fprintf(stderr, "  ETA %d:%02d ", (int)eta / 60, (int)eta % 60);
    if (done >= total)
        fprintf(stderr, "\r%*s\r", 90, "");
}

static void print_line(const cli_progress *p, double el, double eta, int64_t done, int64_t total)
{
    fprintf(stderr, "numrep: %s: %lld/%lld after %.0f s wall", p->phase, (long long)done,
            (long long)total, el);
    if (done < total)
        fprintf(stderr, ", about %d:%02d to go", (int)eta / 60, (int)eta % 60);
    fputc('\n', stderr);
}

void cli_progress_update(cli_progress *p, const char *phase, int64_t done, int64_t total)
{
    if (!p->on)
        return;
    double t = now();
    if (strncmp(p->phase, phase, sizeof p->phase - 1)) {
        snprintf(p->phase, sizeof p->phase, "%s", phase);
        p->t0 = p->last = t;
        p->lines = 0;
    }
    double gap = p->tty ? 0.2 : p->interval;
    /* a log line only once a phase has run 10 s, then every 10 s, and the
     * end of a phase that printed one, once (lines < 0 after it: a phase
     * whose count restarts, such as the search's batches of R^2 runs,
     * reports done == total at the end of every batch): short runs stay
     * silent */
    if (done < total ? t - p->last < gap : !p->tty && p->lines <= 0)
        return;
    p->last = t;
    double el = t - p->t0, eta = done ? el * (double)(total - done) / (double)done : 0;
    if (p->tty) {
        draw_bar(p, el, eta, done, total);
    } else {
        print_line(p, el, eta, done, total);
        p->lines = done < total ? (p->lines < 0 ? 1 : p->lines + 1) : -1;
    }
    fflush(stderr);
}

void cli_progress_cb(void *ctx, int64_t done, int64_t total)
{
    cli_progress *p = ctx;
    cli_progress_update(p, p->at, done, total);
}
