/* edge_timer.h -- a free-running tick counter for measuring what a call
 * costs on the device (bench/bench_edge.sh).  timer_mps2.c implements it
 * with the CMSDK APB timer 0 of QEMU's MPS2 boards (AN385/AN386), clocked
 * at the board's 25 MHz PCLK; under `qemu-system-arm -icount shift=0` one
 * instruction is one nanosecond of virtual time, so a tick is 40
 * instructions (the harness measures the ratio with a loop of known length
 * rather than trusting it). */
#ifndef NUMREP_EDGE_TIMER_H
#define NUMREP_EDGE_TIMER_H

#include <stdint.h>

/* Start the counter (idempotent). */
void edge_timer_start(void);
/* Ticks since edge_timer_start; wraps after 2^32 ticks. */
uint32_t edge_timer_ticks(void);
/* Run a loop of exactly 2 * n + a few instructions (subs, bne), to
 * calibrate ticks against instructions. */
void edge_timer_spin(uint32_t n);

#endif
