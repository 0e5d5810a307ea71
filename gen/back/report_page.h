/* report_page.h -- `numrep report` as a library call.  Exports of
 * report_page.c: */
#ifndef NUMREP_REPORT_PAGE_H
#define NUMREP_REPORT_PAGE_H

#include "report.h"

/* nr_report_write (runtime/study/report.h) with templates/report.html.in
 * found as paths.h says. */
int gen_report_page(const char *dbpath, int64_t run_id, const char *out, nr_run *reported,
                    nr_err *err);

#endif
