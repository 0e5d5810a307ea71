/* edge_io.h -- the two things harness.c needs from its platform: print a
 * string and stop with an exit status.  semihost.c implements them on bare
 * metal (ARM semihosting, QEMU or a debug probe); hosted_io.c with stdio for
 * Linux targets (aarch64 under qemu-aarch64, or the build machine), so the
 * same harness runs everywhere and outputs can be compared byte for byte. */
#ifndef NUMREP_EDGE_IO_H
#define NUMREP_EDGE_IO_H

/* Write a NUL-terminated string to the host's console. */
void edge_io_puts(const char *s);
/* Stop the program; status 0 is success.  Never returns. */
void edge_io_exit(int status) __attribute__((noreturn));

#endif
