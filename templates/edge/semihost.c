/* semihost.c -- edge_io.h over ARM semihosting, for bare-metal Cortex-M.
 *
 * A semihosting call on M-profile is `bkpt 0xAB` with the operation number
 * in r0 and its argument (a value or a pointer to a parameter block) in r1;
 * the debugger or QEMU (-semihosting-config enable=on,target=native)
 * carries it out on the host.  Without a semihosting host attached the
 * bkpt is a debug event that locks up the core: this file is for test
 * images, not for products. */
#include "edge_io.h"

#include <stdint.h>

enum {
    SYS_WRITEC = 0x03,         /* r1: pointer to one character           */
    SYS_WRITE0 = 0x04,         /* r1: pointer to a NUL-terminated string */
    SYS_EXIT = 0x18,           /* r1: a reason code (32-bit ARM)         */
    SYS_EXIT_EXTENDED = 0x20,  /* r1: {reason, subcode}: carries a status */
};
enum {
    ADP_Stopped_ApplicationExit = 0x20026,
    ADP_Stopped_RunTimeErrorUnknown = 0x20023,
};

static uintptr_t sh_call(uintptr_t op, uintptr_t arg)
{
    register uintptr_t r0 __asm__("r0") = op;
    register uintptr_t r1 __asm__("r1") = arg;
    /* memory: the host reads (and for some calls writes) what r1 points at. */
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void edge_sh_writec(char c)
{
    sh_call(SYS_WRITEC, (uintptr_t)&c);
}

void edge_io_puts(const char *s)
{
    sh_call(SYS_WRITE0, (uintptr_t)s);
}

void edge_io_exit(int status)
{
    /* 32-bit SYS_EXIT has no status: ApplicationExit means 0, any other
     * reason 1.  SYS_EXIT_EXTENDED (semihosting v2, which QEMU implements)
     * passes the status itself; if the host lacks it the call returns and
     * we fall back to the plain one, which at least keeps 0 vs non-zero. */
    if (status != 0) {
        uint32_t block[2] = {ADP_Stopped_ApplicationExit, (uint32_t)status};
        sh_call(SYS_EXIT_EXTENDED, (uintptr_t)block);
    }
    sh_call(SYS_EXIT, status == 0 ? ADP_Stopped_ApplicationExit
                                  : ADP_Stopped_RunTimeErrorUnknown);
    for (;;) /* no semihosting host: stop here */
        __asm__ volatile("wfi");
}
