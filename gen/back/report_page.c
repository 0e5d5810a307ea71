/* report_page.c -- the HTML report with the template found where numrep
 * finds its templates (paths.h: $NUMREP_TEMPLATES, the install, the source
 * tree): what `numrep report` and numrep.report (python/) call. */
#include "report_page.h"

#include "paths.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

int gen_report_page(const char *dbpath, int64_t run_id, const char *out, nr_run *reported,
                    nr_err *err)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc = gen_res_find(GEN_RES_TEMPLATES, dir, sizeof dir, NULL, err);
    if (rc)
        return rc;
    if ((size_t)snprintf(path, sizeof path, "%s/report.html.in", dir) >= sizeof path)
        return nr_err_set(err, NR_EIO, dir, 0, 0, "template", "path too long");
    FILE *f = fopen(path, "rb"); /* the hint where templates come from */
    if (!f)
        return nr_err_set(err, NR_EIO, path, 0, 0, "template", "cannot open: %s (%s overrides "
                          "the directory)", strerror(errno), gen_res_var(GEN_RES_TEMPLATES));
    fclose(f);
    return nr_report_write(dbpath, run_id, path, out, reported, err);
}
