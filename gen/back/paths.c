/* paths.c -- the one lookup rule for numrep's run-time resources (paths.h):
 * environment variable, else the running binary's install prefix, else the
 * source and build tree numrep was compiled in. */
#define _GNU_SOURCE /* dladdr */
#include "paths.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
    const char *name, *var, *alias, *rel, *probe;
} resources[GEN_RES_COUNT] = {
#define X(id, name, var, alias, rel, probe) [id] = {name, var, alias, rel, probe},
    GEN_RESOURCES(X)
#undef X
};

const char *gen_res_name(gen_res r) { return resources[r].name; }
const char *gen_res_var(gen_res r) { return resources[r].var; }

/* Where the build put r (step 3); NULL when numrep was compiled without it. */
static const char *build_tree_path(gen_res r)
{
    switch (r) {
#ifdef NUMREP_SOURCE_DIR
    case GEN_RES_TEMPLATES: return NUMREP_SOURCE_DIR "/templates";
    case GEN_RES_RUNTIME_SRC: return NUMREP_SOURCE_DIR "/runtime";
    case GEN_RES_PREDICTOR: return NUMREP_SOURCE_DIR "/specs/predictor.yaml";
#endif
#ifdef NUMREP_RUNTIME_LIB
    case GEN_RES_RUNTIME_LIB: return NUMREP_RUNTIME_LIB;
#endif
    default: return NULL;
    }
}

/* The value of r's variable (or its alias) when set and not empty. */
static const char *env_path(gen_res r, const char **var)
{
    const char *names[2] = {resources[r].var, resources[r].alias};
    for (int i = 0; i < 2; i++) {
        const char *s = names[i] ? getenv(names[i]) : NULL;
        if (s && *s) {
            *var = names[i];
            return s;
        }
    }
    return NULL;
}

/* r is at path: a readable file, or a directory holding its probe file. */
static int present(gen_res r, const char *path)
{
    if (!resources[r].probe)
        return access(path, R_OK) == 0;
    char p[PATH_MAX];
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
           (size_t)snprintf(p, sizeof p, "%s/%s", path, resources[r].probe) < sizeof p &&
           access(p, R_OK) == 0;
}

/* PREFIX when path (a file) is PREFIX/DIR/NAME, else "". */
static void prefix_of(const char *path, const char *dir, char *buf, size_t n)
{
    char p[PATH_MAX];
    buf[0] = 0;
    if ((size_t)snprintf(p, sizeof p, "%s", path) >= sizeof p)
        return;
    char *slash = strrchr(p, '/');
    if (!slash)
        return;
    *slash = 0; /* the file's directory */
    slash = strrchr(p, '/');
    if (!slash || strcmp(slash + 1, dir))
        return;
    *slash = 0;
    if ((size_t)snprintf(buf, n, "%s", *p ? p : "/") >= n)
        buf[0] = 0;
}

void gen_res_install_prefix(char *buf, size_t n)
{
    buf[0] = 0;
    /* This code in a shared library, PREFIX/lib/libnumrep_gen.so (python
     * loads it): the library's prefix, whatever the process is.  (In the
     * numrep executable it is linked in statically: dladdr names the
     * executable, not in a lib/ directory.) */
    Dl_info info;
    if (dladdr((void *)gen_res_install_prefix, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/'))
        prefix_of(info.dli_fname, "lib", buf, n);
    if (buf[0])
        return;
    char exe[PATH_MAX];
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0)
        return;
    exe[k] = 0;
    /* Only a binary in .../bin is installed: the build tree's numrep must
     * not pick up resources that happen to lie next to the build directory
     * (an old install into the build directory's parent). */
    prefix_of(exe, "bin", buf, n);
}

int gen_res_find(gen_res r, char *buf, size_t n, const char **origin, nr_err *err)
{
    const char *var = NULL, *how = NULL, *s = env_path(r, &var);
    char prefix[PATH_MAX], inst[PATH_MAX] = "";
    if (s) {
        how = var;
    } else {
        gen_res_install_prefix(prefix, sizeof prefix);
        if (prefix[0] &&
            (size_t)snprintf(inst, sizeof inst, "%s/%s", strcmp(prefix, "/") ? prefix : "",
                             resources[r].rel) < sizeof inst &&
            present(r, inst)) {
            s = inst;
            how = "install prefix";
        } else if ((s = build_tree_path(r)) && present(r, s)) {
            how = "build tree";
        } else {
            s = NULL;
        }
    }
    if (s && (size_t)snprintf(buf, n, "%s", s) < n) {
        if (origin)
            *origin = how;
        return 0;
    }
    if (n)
        buf[0] = 0;
    if (s)
        return nr_err_set(err, NR_EIO, s, 0, 0, resources[r].name, "path too long");
    const char *built = build_tree_path(r);
    return nr_err_set(err, NR_EIO, NULL, 0, 0, resources[r].name,
                      "not found; looked in %s%s%s (set %s to its path)",
                      inst[0] ? inst : "no install prefix (numrep is not in a bin/ directory)",
                      built ? " and " : "", built ? built : "", resources[r].var);
}
