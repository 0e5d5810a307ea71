/* format_internal.h -- format.c's helpers for format_parse.c (not public). */
#ifndef NUMREP_FORMAT_INTERNAL_H
#define NUMREP_FORMAT_INTERNAL_H

#include "numrep.h"

int nr_format_default_bias(int exp_bits, nr_specials sp);
int nr_format_preset_count(void);
const char *nr_format_preset_name(int i);
int nr_format_preset(int i, nr_format *f, nr_err *err);

#endif
