/* emu_math.c -- LRN and softmax in double precision ([net-8]).  These are
 * the only implementations: the emulator rounds their results to the
 * activation format, and generated code calls these same functions, so the
 * two agree bit for bit whatever libm's exp/pow do.  The order of every
 * operation below is part of the contract; do not "optimise" it. */
#include "emulator.h"

#include <math.h>

/* PyTorch's LocalResponseNorm: for channel c the window is
 * c - size/2 .. c + (size-1)/2 clipped to the channels;
 * d = (sum of x^2 over the window, ascending) / size * alpha + k;
 * y = x / pow(d, beta). */
void nr_emu_math_lrn(const double *in, double *out, int C, int HW, int size, double alpha,
                     double beta, double k)
{
    for (int c = 0; c < C; c++) {
        int lo = c - size / 2, hi = c + (size - 1) / 2;
        if (lo < 0)
            lo = 0;
        if (hi > C - 1)
            hi = C - 1;
        for (int p = 0; p < HW; p++) {
            double sum = 0;
            for (int j = lo; j <= hi; j++) {
                double v = in[(long)j * HW + p];
                sum += v * v;
            }
            double d = sum / size * alpha + k;
            out[(long)c * HW + p] = in[(long)c * HW + p] / pow(d, beta);
        }
    }
}

/* Softmax over channels at each position: m = max (NaN ignored), e_c =
 * exp(x_c - m), s = sum of e_c ascending, y_c = e_c / s.  A NaN input makes
 * its position all NaN (through exp and the sum). */
void nr_emu_math_softmax(const double *in, double *out, int C, int HW)
{
    for (int p = 0; p < HW; p++) {
        double m = -INFINITY;
        for (int c = 0; c < C; c++) {
            double v = in[(long)c * HW + p];
            if (v > m)
                m = v;
        }
        double s = 0;
        for (int c = 0; c < C; c++) {
            double e = exp(in[(long)c * HW + p] - m);
            out[(long)c * HW + p] = e;
            s += e;
        }
        for (int c = 0; c < C; c++)
            out[(long)c * HW + p] /= s;
    }
}
