/* fuzz.h -- what the libFuzzer targets in tests/fuzz/ share: the input as a
 * C string, or written to a file in a scratch directory of this process
 * (most parsers read paths).  Built only with -DNUMREP_FUZZ=ON and clang
 * (CMakeLists.txt); run by ctest for a few seconds each and by bench/fuzz.sh
 * for as long as asked. */
#ifndef NUMREP_FUZZ_H
#define NUMREP_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* data as a NUL-terminated string (malloc'ed; embedded NULs cut it). */
char *fuzz_cstr(const uint8_t *data, size_t size);
/* The scratch directory (created once, removed at exit). */
const char *fuzz_dir(void);
/* Write data to fuzz_dir()/name; returns the path (static buffer, one per
 * call slot 0..3) or NULL. */
const char *fuzz_file(int slot, const char *name, const void *data, size_t size);
/* Remove every file of fuzz_dir() (between inputs). */
void fuzz_clean(void);

#endif
