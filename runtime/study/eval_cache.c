/* eval_cache.c -- hashing, and the file cache of fp32 baselines for
 * `numrep eval`.  An entry is a small text file
 *
 *   numrep-fp32-cache 1
 *   key <16 hex> n <N> classes <K>
 *   <argmax> <rank>          (N lines)
 *   check <16 hex>           (hash of the N pairs)
 *
 * written to a temporary name and renamed, so readers see a whole file or
 * none.  Anything that does not parse exactly, or whose check does not
 * match, is treated as absent: the cache can only cost time, never give a
 * wrong baseline. */
#include "eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int nr_eval_cache_key(const nr_model *m, uint64_t random_seed, uint64_t data_hash,
                      int64_t first, int64_t n, uint64_t *key, nr_err *err)
{
    static const char tag[] = "numrep fp32 baseline v1 (emulator semantics)";
    uint64_t hs = 0, hw = 0;
    int rc = nr_hash_file(m->spec->path, &hs, NULL, err);
    if (rc)
        return rc;
    if (!random_seed && m->spec->weights[0] && (rc = nr_hash_file(m->spec->weights, &hw, NULL, err)))
        return rc;
    uint64_t parts[] = {hs, hw, random_seed, data_hash, (uint64_t)first, (uint64_t)n};
    *key = nr_hash_bytes(nr_hash_bytes(NR_HASH_INIT, tag, sizeof tag), parts, sizeof parts);
    return 0;
}

/* ---------------------------------------------------------------- cache files */

void nr_eval_cache_dir(char *out, size_t size)
{
    const char *d = getenv("NUMREP_CACHE_DIR"), *x = getenv("XDG_CACHE_HOME"),
               *home = getenv("HOME");
    if (d && *d)
        snprintf(out, size, "%s", d);
    else if (x && *x)
        snprintf(out, size, "%s/numrep", x);
    else if (home && *home)
        snprintf(out, size, "%s/.cache/numrep", home);
    else if (size)
        out[0] = 0;
}

static void entry_path(char *out, size_t size, const char *dir, uint64_t key)
{
    snprintf(out, size, "%s/fp32-%016llx.txt", dir, (unsigned long long)key);
}

static uint64_t check_of(const nr_eval_result *r)
{
    uint64_t h = nr_hash_bytes(NR_HASH_INIT, r->argmax, (size_t)r->n * sizeof *r->argmax);
    return nr_hash_bytes(h, r->rank, (size_t)r->n);
}

int nr_eval_cache_get(const char *dir, uint64_t key, int64_t n, int classes, nr_eval_result *r)
{
    memset(r, 0, sizeof *r);
    if (!dir || !dir[0] || n <= 0 || n > (1ll << 31))
        return 0;
    char path[4200];
    entry_path(path, sizeof path, dir, key);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    int ok = 0, version = 0, k = 0;
    unsigned long long fkey = 0, check = 0;
    long long fn = 0;
    char magic[32];
    if (fscanf(f, "%31s %d key %16llx n %lld classes %d", magic, &version, &fkey, &fn, &k) != 5 ||
        strcmp(magic, "numrep-fp32-cache") || version != 1 || fkey != key || fn != n ||
        k != classes)
        goto out;
    r->argmax = malloc((size_t)n * sizeof *r->argmax);
    r->rank = malloc((size_t)n);
    if (!r->argmax || !r->rank)
        goto out;
    r->n = n;
    r->classes = k;
    for (int64_t i = 0; i < n; i++) {
        int a, rk;
        if (fscanf(f, "%d %d", &a, &rk) != 2 || a < -1 || a >= k || rk < 0 || rk > 255 ||
            (rk != 255 && rk >= k))
            goto out;
        r->argmax[i] = a;
        r->rank[i] = (uint8_t)rk;
        r->top1 += rk == 0;
        r->top5 += rk < 5;
    }
    char word[8];
    if (fscanf(f, "%7s %16llx", word, &check) != 2 || strcmp(word, "check") ||
        check != check_of(r))
        goto out;
    ok = 1;
out:
    fclose(f);
    if (!ok)
        nr_eval_result_free(r), memset(r, 0, sizeof *r);
    return ok;
}

/* mkdir -p for the cache directory (the last two levels at most matter). */
static void make_dirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0777);
            *s = '/';
        }
    mkdir(p, 0777);
}

int nr_eval_cache_put(const char *dir, uint64_t key, const nr_eval_result *r, nr_err *err)
{
    if (!dir || !dir[0])
        return 0;
    make_dirs(dir);
    char path[4200], tmp[4300];
    entry_path(path, sizeof path, dir, key);
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return nr_err_set(err, NR_EIO, tmp, 0, 0, "cache", "cannot write: %s", strerror(errno));
    fprintf(f, "numrep-fp32-cache 1\nkey %016llx n %lld classes %d\n", (unsigned long long)key,
            (long long)r->n, r->classes);
    for (int64_t i = 0; i < r->n; i++)
        fprintf(f, "%d %d\n", r->argmax[i], r->rank[i]);
    fprintf(f, "check %016llx\n", (unsigned long long)check_of(r));
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path)) {
        int e = errno;
        remove(tmp);
        return nr_err_set(err, NR_EIO, path, 0, 0, "cache", "cannot write: %s", strerror(e));
    }
    return 0;
}
