/* f128.h -- nr_f128, binary128, with glibc's strtof128 and strfromf128 for
 * both compilers: gcc has _Float128 and glibc declares the functions;
 * clang (the fuzz build, tests/fuzz/) spells the type __float128 and glibc
 * hides the declarations from it, so they are declared here (the same
 * symbols and ABI).  Include after defining _GNU_SOURCE. */
#ifndef NR_F128_H
#define NR_F128_H

#include <stddef.h>
#include <stdlib.h>

#if defined(__clang__)
typedef __float128 nr_f128;
__float128 strtof128(const char *restrict s, char **restrict end);
int strfromf128(char *restrict s, size_t n, const char *restrict fmt, __float128 v);
#else
typedef _Float128 nr_f128;
#endif

#endif
