/* startup_cm.c -- reset and fault handling for a Cortex-M test image
 * (ARMv6-M and ARMv7-M; built with any -mcpu=cortex-m*).
 *
 * The core loads SP from vector 0 and jumps to vector 1, so the reset
 * handler can be plain C: copy .data from flash to RAM, zero .bss, turn the
 * FPU on when the code was compiled to use it, trap unaligned accesses
 * when it was compiled for ARMv6-M, call main and hand its
 * status to edge_io_exit (semihosting).  A fault prints the exception
 * number and the faulting PC and exits with status 70, so a broken image
 * fails a test instead of hanging until the timeout.  Symbols come from
 * mps2.ld. */
#include "edge_io.h"

#include <stdint.h>

extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];
extern uint32_t __stack_top[];

int main(void);
void edge_reset(void) __attribute__((noreturn));
void edge_fault(void);
void edge_fault_report(const uint32_t *frame);

void edge_reset(void)
{
#if defined(__ARM_FP)
    /* CPACR: full access to coprocessors 10 and 11 (the FPU); without it
     * the first floating-point instruction is a UsageFault. */
    volatile uint32_t *cpacr = (volatile uint32_t *)0xE000ED88u;
    *cpacr |= 0xFu << 20;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if defined(__ARM_ARCH_6M__)
    /* ARMv6-M has no unaligned loads; the tests run such images on a
     * Cortex-M3 board (mps2-an385), which has them.  CCR.UNALIGN_TRP makes
     * the M3 fault on one, as an M0 would (on an M0 the bit is read-only
     * and already set: the write does nothing). */
    volatile uint32_t *ccr = (volatile uint32_t *)0xE000ED14u;
    *ccr |= 1u << 3;
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    /* Word loops through volatile pointers: no call to memcpy before .data
     * exists, and the compiler cannot merge them into one. */
    volatile uint32_t *d = __data_start;
    for (const uint32_t *s = __data_load; d < __data_end;)
        *d++ = *s++;
    for (volatile uint32_t *b = __bss_start; b < __bss_end;)
        *b++ = 0;
    edge_io_exit(main());
}

/* The exception frame the core pushed is on the main stack (we never
 * switch to the process stack); pass it to C before C moves SP. */
__attribute__((naked)) void edge_fault(void)
{
    __asm__ volatile("mrs r0, msp\n\t"
                     "ldr r1, =edge_fault_report\n\t"
                     "bx r1\n\t"
                     ".ltorg");
}

static char *put_hex(char *p, uint32_t v)
{
    for (int i = 7; i >= 0; i--)
        *p++ = "0123456789abcdef"[(v >> (4 * i)) & 0xF];
    return p;
}

void edge_fault_report(const uint32_t *frame)
{
    uint32_t ipsr;
    __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
    char line[64] = "numrep-edge: fault: exception ";
    char *p = line + 30;
    p = put_hex(p, ipsr & 0x1FF);
    const char *at = " pc ";
    while (*at)
        *p++ = *at++;
    p = put_hex(p, frame[6]); /* r0 r1 r2 r3 r12 lr pc xpsr */
    *p++ = '\n';
    *p = 0;
    edge_io_puts(line);
    edge_io_exit(70);
}

/* Only the core's own exceptions: the image enables no interrupts. */
typedef void (*edge_vector)(void);
__attribute__((section(".isr_vector"), used)) static const edge_vector vectors[16] = {
    (edge_vector)(uintptr_t)__stack_top, /* 0: initial SP            */
    edge_reset,                           /* 1: reset                 */
    edge_fault,                           /* 2: NMI                   */
    edge_fault,                           /* 3: HardFault             */
    edge_fault,                           /* 4: MemManage (v7-M)      */
    edge_fault,                           /* 5: BusFault (v7-M)       */
    edge_fault,                           /* 6: UsageFault (v7-M)     */
    0, 0, 0, 0,                           /* 7-10: reserved           */
    edge_fault,                           /* 11: SVCall               */
    edge_fault,                           /* 12: DebugMonitor (v7-M)  */
    0,                                    /* 13: reserved             */
    edge_fault,                           /* 14: PendSV               */
    edge_fault,                           /* 15: SysTick              */
};
