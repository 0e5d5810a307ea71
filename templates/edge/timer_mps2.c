/* timer_mps2.c -- edge_timer.h on QEMU's MPS2 boards: CMSDK APB timer 0 at
 * 0x40000000 (ARM DDI 0479C, "APB timer": CTRL +0, VALUE +4, RELOAD +8; the
 * value counts down at PCLK and reloads at zero).  Loaded with 0xFFFFFFFF
 * it counts down from there, so elapsed ticks = 0xFFFFFFFF - VALUE. */
#include "edge_timer.h"

#define TIMER0 ((volatile uint32_t *)0x40000000u)
enum { CTRL = 0, VALUE = 1, RELOAD = 2 };

void edge_timer_start(void)
{
    TIMER0[CTRL] = 0;
    TIMER0[RELOAD] = 0xFFFFFFFFu;
    TIMER0[VALUE] = 0xFFFFFFFFu;
    TIMER0[CTRL] = 1; /* enable, no interrupt, internal clock */
}

uint32_t edge_timer_ticks(void)
{
    return 0xFFFFFFFFu - TIMER0[VALUE];
}

void edge_timer_spin(uint32_t n)
{
    if (!n)
        return;
    /* "subs r0, #1; bne .-2" as halfwords (0x3801, 0xd1fd): the same two
     * Thumb instructions in GCC's divided (ARMv6-M) and unified syntax. */
    register uint32_t r0 __asm__("r0") = n;
    __asm__ volatile(".hword 0x3801, 0xd1fd" : "+r"(r0) : : "cc");
}
