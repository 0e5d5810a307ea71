/* libc_min.c -- the only C library a numrep model object needs on bare
 * metal: memcpy, memmove, memset (and memcmp for completeness), plus the
 * ARM EABI names LLVM and GCC call on arm-none-eabi (__aeabi_memcpy,
 * __aeabi_memset with its (dest, n, c) argument order, __aeabi_memclr, ...).
 * Byte loops (memcpy: words when aligned): small and obviously right; a
 * product links its own libc (newlib, picolibc) instead, which has all of these.
 *
 * The loops must not be turned back into calls to the functions they
 * implement (GCC's loop-distribution pass does exactly that at -O2), hence
 * the optimize attribute and -ffreestanding in the build. */
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__) && !defined(__clang__)
#define EDGE_NO_LIBCALL __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define EDGE_NO_LIBCALL
#endif

/* A word as the copy loop reads it: may alias any object, as memcpy must. */
typedef uint32_t __attribute__((may_alias)) edge_word;

/* Words while both pointers are 4-aligned (every Cortex-M does aligned word
 * loads; the model's arena rows are), then bytes: the generated fp32 code
 * copies accumulator rows, and a byte loop made fp32 the slow baseline. */
EDGE_NO_LIBCALL void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((((uintptr_t)d | (uintptr_t)s) & 3) == 0) {
        edge_word *dw = (edge_word *)d;
        const edge_word *sw = (const edge_word *)s;
        for (; n >= 4; n -= 4)
            *dw++ = *sw++;
        d = (unsigned char *)dw;
        s = (const unsigned char *)sw;
    }
    while (n--)
        *d++ = *s++;
    return dst;
}

EDGE_NO_LIBCALL void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if ((uintptr_t)d - (uintptr_t)s >= n) { /* no overlap that forward copying would clobber */
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

EDGE_NO_LIBCALL void *memset(void *dst, int c, size_t n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x < *y ? -1 : 1;
    return 0;
}

#if defined(__arm__)
/* Run-time ABI for the Arm architecture, section 4.3.4.  The 4/8 variants
 * promise aligned pointers; byte copies are correct for them too. */
void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset8(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }
#endif
