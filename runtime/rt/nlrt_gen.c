/* nlrt_gen.c -- what generated code of the sequence ops (gen/lower/
 * emit_seq.c) calls for the two roundings it does not emit inline: a
 * nonlinear function correctly rounded into the nonlinear format ([op-nl],
 * numrep's own implementation [nl-impl], never libm) and the exact quotient
 * of two values rounded once (softmax's division, [op-softmax]).  Values
 * in and out are the doubles they exactly are; the format is a constant
 * copy of its nr_format in the generated module. */
#include "nlrt.h"

double nr_nlrt_gen(int fn, double x, const nr_format *out, int mode, uint32_t sr_bits)
{
    const nr_nl f = {(nr_nlfn)fn, 0};
    nr_exact y;
    unsigned fl = 0;
    nr_nlrt_exact(&f, x, out, (nr_rounding)mode, &y);
    return nr_decode(out, nr_nl_round(x != x, &y, out, (nr_rounding)mode, sr_bits, &fl));
}

double nr_nlrt_gen_div(double a, double b, const nr_format *out, int mode, uint32_t sr_bits)
{
    nr_exact ea, eb, q;
    unsigned fl = 0;
    nr_exact_from_double(a, &ea);
    nr_exact_from_double(b, &eb);
    nr_exact_div(&ea, &eb, &q);
    return nr_decode(out, nr_round_exact(out, (nr_rounding)mode, &q, sr_bits, &fl));
}
