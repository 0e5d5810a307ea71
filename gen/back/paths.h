/* paths.h -- where numrep finds what it needs at run time: the templates,
 * the runtime library host executables link, the runtime sources cross
 * builds compile, and the default predictor of `numrep search`.
 *
 * One rule for each resource, in this order:
 *   1. its environment variable, when set and not empty (used as given);
 *   2. the install prefix of the running binary: /proc/self/exe is
 *      PREFIX/bin/numrep (in python: libnumrep_gen.so is PREFIX/lib/...), the resource PREFIX/share/numrep/... or
 *      PREFIX/lib/numrep/libnumrep.a (`cmake --install` lays them out so,
 *      and the whole prefix may be moved);
 *   3. the source and build tree numrep was compiled in (running from the
 *      build directory needs no install).
 * 2 and 3 count only when the resource is there; 1 is taken on trust and a
 * missing file is reported when it is opened. */
#ifndef NUMREP_PATHS_H
#define NUMREP_PATHS_H

#include <stddef.h>

#include "numrep.h"

/* The table: id, name, overriding variable (and an older alias), the path
 * under the install prefix, and a file that must be in a directory for it
 * to count (NULL: the resource is a file). */
#define GEN_RESOURCES(X)                                                                     \
    X(GEN_RES_TEMPLATES, "templates", "NUMREP_TEMPLATES", "NUMREP_TEMPLATE_DIR",               \
      "share/numrep/templates", "driver.c.in")                                                \
    X(GEN_RES_RUNTIME_LIB, "runtime-lib", "NUMREP_RUNTIME_LIB", NULL, "lib/numrep/libnumrep.a", \
      NULL)                                                                                   \
    X(GEN_RES_RUNTIME_SRC, "runtime-src", "NUMREP_RUNTIME_SRC", NULL, "share/numrep/runtime",   \
      "rt/rt.c")                                                                                 \
    X(GEN_RES_PREDICTOR, "predictor", "NUMREP_PREDICTOR", NULL,                                \
      "share/numrep/specs/predictor.yaml", NULL)

typedef enum gen_res {
#define X(id, name, var, alias, rel, probe) id,
    GEN_RESOURCES(X)
#undef X
    GEN_RES_COUNT
} gen_res;

/* "templates", "runtime-lib", ... */
const char *gen_res_name(gen_res r);
/* The environment variable that overrides r ("NUMREP_TEMPLATES", ...). */
const char *gen_res_var(gen_res r);

/* The path of r by the rule above, into buf.  *origin (may be NULL) says
 * which step found it: the variable's name ("NUMREP_TEMPLATES"),
 * "install prefix" or "build tree".  When nothing is found: buf is "", and err names r, every
 * place looked in and the variable that overrides it; returns -NR_EIO. */
int gen_res_find(gen_res r, char *buf, size_t n, const char **origin, nr_err *err);

/* The install prefix: of the shared library this code is in when that is
 * PREFIX/lib/libnumrep_gen.so (python), else of the running binary
 * (PREFIX of PREFIX/bin/numrep), else "". */
void gen_res_install_prefix(char *buf, size_t n);

#endif
