/* fuzz_util.c -- fuzz.h: scratch files and strings for the fuzz targets. */
#include "fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];

static void remove_dir(void)
{
    fuzz_clean();
    rmdir(dir);
}

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        /* memory-backed when there is one: the store's fsyncs are cheap */
        const char *t = getenv("TMPDIR");
        if (!t || !*t)
            t = access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm";
        snprintf(dir, sizeof dir, "%s/numrep_fuzz_%d", t, (int)getpid());
        mkdir(dir, 0700);
        atexit(remove_dir);
    }
    return dir;
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

const char *fuzz_file(int slot, const char *name, const void *data, size_t size)
{
    static char paths[4][512];
    char *p = paths[slot & 3];
    snprintf(p, sizeof paths[0], "%s/%s", fuzz_dir(), name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return NULL;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    return p;
}

void fuzz_clean(void)
{
    DIR *d = opendir(fuzz_dir());
    if (!d)
        return;
    struct dirent *e;
    char p[600];
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}
