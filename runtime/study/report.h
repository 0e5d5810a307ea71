/* report.h -- the HTML report of a results store (`numrep report`,
 * numrep.report).  Exports of report.c: */
#ifndef NUMREP_REPORT_H
#define NUMREP_REPORT_H

#include "results.h"

/* Fill the template at template_path (templates/report.html.in) with the
 * numbers of run run_id of the store at dbpath (0: the newest finished run,
 * else the newest) and the other runs of its network, into out (written as
 * out.tmp, then renamed: a failure leaves no half-written file).  reported
 * (may be NULL): the run reported.  Errors: the store's, the template's
 * (NR_EIO, NR_ECORRUPT without its marker), NR_ERANGE for a store without
 * runs or an unknown run id. */
int nr_report_write(const char *dbpath, int64_t run_id, const char *template_path,
                    const char *out, nr_run *reported, nr_err *err);

#endif
