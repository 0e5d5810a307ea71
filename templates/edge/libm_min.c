/* libm_min.c -- the one libm function numrep's runtime needs on a bare-metal
 * target: ldexp (runtime/num/codec.c's nr_decode), as C99 defines it
 * (x * 2^e correctly rounded, round to nearest even), with + - * only.
 * Scaling in steps of 2^1023 or 2^-969 (= 2^-1022 * 2^53, so a step never
 * lands in the subnormal range before the last one) keeps every step but
 * the last exact; the last is one correctly rounded product. */
double ldexp(double x, int e);

double ldexp(double x, int e)
{
    const double up = 0x1p1023, down = 0x1p-969;
    if (e > 0) {
        for (int i = 0; i < 2 && e > 1023; i++)
            x *= up, e -= 1023;
        if (e > 1023)
            e = 1023; /* x is infinite, zero or NaN by now */
    } else if (e < 0) {
        for (int i = 0; i < 2 && e < -1022; i++)
            x *= down, e += 969;
        if (e < -1022)
            e = -1022; /* stays tiny: the last product rounds it */
    }
    /* 2^e as a double, e in [-1022, 1023] */
    union {
        double d;
        unsigned long long u;
    } p = {.u = (unsigned long long)(e + 1023) << 52};
    return x * p.d;
}
