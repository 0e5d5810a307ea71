/* numrep.h -- public API of libnumrep: number formats, exact rounding,
 * arithmetic, bulk kernels.  Read it as a table of contents; the numeric
 * rules every function follows are written down in docs/semantics.md and
 * cited there as [fmt-N], [rnd-N], [op-N].
 *
 * Conventions: functions return 0 on success or a negative NR_E* code and
 * fill an nr_err; nothing in the library prints or exits.  State travels in
 * arguments: there are no mutable globals. */
#ifndef NUMREP_H
#define NUMREP_H

/* Table of contents of runtime/num/: each file, its job, and (in brackets) the
 * header that declares its exports.
 *   arith.c         correctly rounded add sub mul div fma sqrt, conversion, exact add/mul
 *                   [numrep.h]
 *   bulk.c          array kernels: float32 arrays rounded, encoded, decoded in bulk [numrep.h]
 *   clock.c         the clocks timings read: wall, calendar, process and thread CPU seconds
 *                   [numrep.h]
 *   codec.c         encodings <-> exact values: decode, classify, encode [numrep.h]
 *   err.c           nr_err: where an error came from and what was expected [numrep.h]
 *   format.c        the format descriptor: validation, derived constants, presets, names
 *                   [numrep.h, format_internal.h]
 *   format_parse.c  text -> nr_format: format names, the YAML long form, rounding modes
 *                   [numrep.h]
 *   hash.c          the hashes, one definition each (splitmix64 mix, bytes, FNV-1a 128)
 *                   [numrep.h]
 *   nlfn.c          the nonlinear functions' names and the checks both implementations
 *                   share [nlfn.h]
 *   nlfn_mpfr.c     the nonlinear functions' MPFR oracle [nlfn.h]
 *   pack.c          dense bit-packing of encodings [numrep.h]
 *   pool.c          the thread pool behind the bulk kernels, the default thread count [pool.h]
 *   round.c         the one round-and-pack: an exact value -> an encoding [numrep.h]
 *   scaled.c        scaled formats: presets, names, validation [scaled.h]
 *   scaled_quant.c  one group of a scaled format: its scale and its elements [scaled.h]
 *   sr.c            random bits for stochastic rounding [numrep.h]
 *   strbuf.c        nr_strbuf: a bounded string builder for messages [numrep.h]
 *   value.c         number text -> exact value [numrep.h]
 */

#include <stddef.h>
#include <stdint.h>
#include "u128.h" /* nr_u128: runtime/num/u128.h */

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

enum {
    NR_OK = 0,
    NR_ESYNTAX = 1, /* malformed text (format name, YAML, number)          */
    NR_ERANGE = 2,  /* a value outside what is allowed                      */
    NR_ESHAPE = 3,  /* tensor shapes that do not fit                        */
    NR_EIO = 4,     /* file could not be read or written                    */
    NR_ENOMEM = 5,  /* allocation failed                                    */
    NR_ECORRUPT = 6,/* a binary file that contradicts itself                */
    NR_EUNSUP = 7,  /* valid but not supported (yet)                        */
    NR_EINTERNAL = 8
};

typedef struct nr_err {
    int code;       /* NR_E*, 0 when no error has been recorded            */
    char file[256]; /* "" when not about a file                            */
    int line, col;  /* 1-based; 0 when not from a text file                */
    char where[96]; /* "layers[3].stride", "tensor conv1.weight", "-p"      */
    char msg[256];  /* what was wrong and what was expected                */
} nr_err;

/* Record an error; the first one wins (later calls on a filled nr_err are
 * ignored).  Returns -code so callers can write `return nr_err_set(...)`. */
int nr_err_set(nr_err *e, int code, const char *file, int line, int col,
               const char *where, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void nr_err_clear(nr_err *e);
/* "file:line:col: where: msg" (parts that are empty are left out). */
void nr_err_format(const nr_err *e, char *buf, size_t n);
const char *nr_err_codename(int code);

/* strbuf.c: a bounded string builder over a caller's buffer for messages
 * built piece by piece.  Appends never overflow; text that does not fit is
 * cut, ends in "..." and sets truncated.  Usage:
 *   char b[96]; nr_strbuf sb = nr_strbuf_on(b, sizeof b);
 *   nr_strbuf_add(&sb, "["); nr_strbuf_dims(&sb, shape, n, ", "); ... */
typedef struct nr_strbuf {
    char *buf;
    size_t cap, len;   /* buf[len] == 0 whenever cap > 0 */
    int truncated;
} nr_strbuf;
nr_strbuf nr_strbuf_on(char *buf, size_t cap);
void nr_strbuf_add(nr_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* dims[0..n) as decimals separated by sep: "3, 224, 224" */
void nr_strbuf_dims(nr_strbuf *sb, const int64_t *dims, int n, const char *sep);

/* ---------------------------------------------------------------- clocks (clock.c)
 * Seconds as a double: nr_clock_wall monotonic (intervals), nr_clock_real
 * calendar time (time stamps; also intervals where those are stored), CPU
 * time of the whole process (every thread) or of the calling thread. */
double nr_clock_wall(void);
double nr_clock_real(void);
double nr_clock_cpu(void);
double nr_clock_thread_cpu(void);

/* ---------------------------------------------------------------- formats
 * One descriptor for every number format.  The user-facing fields say what
 * the format is; nr_format_finish() derives the constants from them, and it
 * is the only place that knows how ([fmt-*] in docs/semantics.md). */

typedef enum { NR_FLOAT = 0, NR_FIXED = 1 } nr_kind;

typedef enum {
    NR_SPECIALS_IEEE = 0,  /* all-ones exponent: inf (mantissa 0) / NaN     */
    NR_SPECIALS_FN = 1,    /* all-ones exp finite except mantissa all-ones: NaN; no inf */
    NR_SPECIALS_FNUZ = 2,  /* no inf, no -0; NaN is the -0 encoding          */
    NR_SPECIALS_FINITE = 3 /* every encoding is a number                     */
} nr_specials;

typedef struct nr_format {
    /* ---- what the format is (set these, then call nr_format_finish) ---- */
    nr_kind kind;
    /* float */
    int exp_bits;      /* 1..11                                           */
    int man_bits;      /* 0..52 (stored fraction bits)                    */
    int bias;          /* exponent bias                                   */
    int subnormals;    /* 1: gradual underflow; 0: exp field 0 is only +-0 */
    nr_specials specials;
    int saturate;      /* float: finite overflow -> +-max; fixed: 1 = saturate, 0 = wrap */
    /* fixed point */
    int int_bits;      /* integer bits besides the sign                   */
    int frac_bits;
    int is_signed;

    /* ---- derived by nr_format_finish (read-only afterwards) ---- */
    int width;         /* bits in one encoding                            */
    int container;     /* 1, 2, 4 or 8 bytes: narrowest that holds width  */
    int prec;          /* significand bits incl. hidden bit (float) / magnitude bits (fixed) */
    int emin;          /* float: unbiased exponent of the smallest normal */
    int emax;          /* float: unbiased exponent of the largest finite  */
    int has_inf, has_nan, has_negzero;
    uint64_t sign_mask, exp_mask, man_mask; /* in the encoding            */
    uint64_t max_bits;     /* encoding of +max finite                     */
    uint64_t min_bits;     /* fixed: encoding of the most negative value  */
    uint64_t inf_bits;     /* +inf encoding (valid if has_inf)            */
    uint64_t nan_bits;     /* canonical NaN encoding (valid if has_nan)   */
    double max_finite;     /* largest finite value                        */
    double min_normal;     /* float: 2^emin; fixed: 2^-frac_bits          */
    double min_subnormal;  /* smallest positive value                     */
    double epsilon;        /* float: 2^-man_bits (spacing of values in [1,2)); fixed: 2^-frac_bits */
    double lowest;         /* most negative finite value                  */
    double finite_count;   /* number of distinct finite values (+0/-0 count once) */
} nr_format;

/* Parse a format name: eXmY[-b<N>][-nosub][-ieee|-fn|-fnuz|-finite][-sat],
 * modifiers in any order, N with an optional sign; qI.F / uqI.F [-wrap];
 * presets (fp64 fp32 tf32 fp16 bf16 e4m3 e5m2 e3m2 e2m3 e2m1 int8 int16
 * int32 uint8 int4 uint4), which take modifiers too: an explicit specials modifier
 * overrides the preset's (e4m3-ieee is the IEEE-style e4m3).
 * Case-insensitive. */
int nr_format_parse(const char *name, nr_format *out, nr_err *err);
/* Long form from key/value pairs (the YAML mapping, flattened):
 * exp man bias subnormals specials overflow  or
 * fixed.int fixed.frac fixed.signed fixed.overflow.  Values are the YAML
 * scalars as text.  A key may also be "name" (a format name as above, the
 * other keys then modify it). */
int nr_format_from_pairs(const char *const *keys, const char *const *vals, int n,
                         nr_format *out, nr_err *err);
/* Validate the user-facing fields and derive the rest. */
int nr_format_finish(nr_format *f, nr_err *err);
/* Convenience constructors (call nr_format_finish internally; a bad
 * combination returns an error). */
int nr_format_float(nr_format *f, int exp_bits, int man_bits, nr_err *err);
int nr_format_fixed(nr_format *f, int int_bits, int frac_bits, int is_signed, nr_err *err);
/* Canonical name (the shortest that parses back to the same format). */
void nr_format_name(const nr_format *f, char *buf, size_t n);
int nr_format_equal(const nr_format *a, const nr_format *b);
/* 1 if every value of f is exactly a float32 value. */
int nr_format_fits_f32(const nr_format *f);

/* ---------------------------------------------------------------- rounding */

/* X-macro: enum suffix, name, description.  One list, used everywhere. */
#define NR_ROUNDING_LIST(X)                                         \
    X(RNE, "rne", "round to nearest, ties to even")                 \
    X(RNA, "rna", "round to nearest, ties away from zero")          \
    X(RZ, "rz", "round toward zero (truncate)")                     \
    X(RU, "ru", "round toward +infinity")                           \
    X(RD, "rd", "round toward -infinity")                           \
    X(RTO, "rto", "round to odd")                                   \
    X(SR, "sr", "stochastic rounding, counter-based and reproducible")

typedef enum {
#define X(e, n, d) NR_RND_##e,
    NR_ROUNDING_LIST(X)
#undef X
    NR_RND_COUNT
} nr_rounding;

const char *nr_format_rounding_name(nr_rounding r);
int nr_rounding_parse(const char *s, nr_rounding *out, nr_err *err);

/* Exception flags, or-ed into *flags by every rounding function (pass NULL
 * when not wanted). */
enum {
    NR_FLAG_INEXACT = 1,   /* result differs from the exact value          */
    NR_FLAG_UNDERFLOW = 2, /* exact value nonzero, |x| < min normal, inexact */
    NR_FLAG_FLUSHED = 4,   /* exact value nonzero, result is zero           */
    NR_FLAG_OVERFLOW = 8,  /* rounded (unbounded exponent) |x| > max finite  */
    NR_FLAG_SATURATED = 16,/* result clamped to +-max (or fixed min/max)     */
    NR_FLAG_INVALID = 32,  /* NaN produced, or NaN/inf with no encoding      */
    NR_FLAG_WRAPPED = 64   /* fixed point wrapped around                    */
};

/* Counter-based random bits for stochastic rounding: a pure function of
 * (seed, layer, element, term), so any thread order and any implementation
 * (emulator, generated code) draw the same bits. [rnd-sr] */
uint32_t nr_sr_bits(uint64_t seed, uint32_t layer, uint64_t element, uint32_t term);

/* ---------------------------------------------------------------- hashing (hash.c)
 * One definition of each hash numrep uses; none is cryptographic. */
#define NR_HASH_GOLDEN 0x9E3779B97F4A7C15ull /* splitmix64's increment */
#define NR_HASH_INIT 0x6a09e667f3bcc908ull   /* start value of nr_hash_bytes */
uint64_t nr_hash_mix64(uint64_t z);          /* splitmix64's finaliser */
uint64_t nr_hash_next(uint64_t *state);      /* splitmix64: the next of a stream */
/* 64-bit hash of bytes, continuing from h (start with NR_HASH_INIT). */
uint64_t nr_hash_bytes(uint64_t h, const void *p, size_t n);
/* FNV-1a 128, written as 32 lowercase hex digits (the results store). */
#define NR_HASH_HEX 33
typedef struct nr_hash128 {
    nr_u128 h;
} nr_hash128;
void nr_hash128_init(nr_hash128 *h);
void nr_hash128_update(nr_hash128 *h, const void *data, size_t n);
void nr_hash128_hex(const nr_hash128 *h, char out[NR_HASH_HEX]);
/* A whole file's bytes into h64 (nr_hash_bytes from NR_HASH_INIT) and/or
 * h128 (either may be NULL); err names the file. */
int nr_hash_file(const char *path, uint64_t *h64, nr_hash128 *h128, nr_err *err);

/* ---------------------------------------------------------------- exact values
 * An exact real number handed to the one round-and-pack routine:
 *   value = (-1)^sign * sig * 2^exp, and if sticky, something strictly
 *   between that and the next multiple of 2^exp above it in magnitude.
 * sig need not be normalised.  sig == 0 with sticky means a nonzero
 * magnitude below 2^(exp-1) (a value too small to say more about). */
typedef enum { NR_CLS_ZERO, NR_CLS_FINITE, NR_CLS_INF, NR_CLS_NAN } nr_class;

typedef struct nr_exact {
    nr_class cls;
    int sign;
    int32_t exp;
    nr_u128 sig;                     /* u128.h: __int128 on hosts */
    int sticky;
} nr_exact;

void nr_exact_from_double(double x, nr_exact *out);
/* Parse decimal / C99 hex / inf / nan text exactly enough for correct
 * rounding into any format (value or value-plus-sticky, through binary128:
 * every format value and every midpoint between two is a binary128 number).
 * Grammar and edge cases: runtime/num/value.c. */
int nr_value_exact_parse(const char *s, nr_exact *out, nr_err *err);
/* Value of an exact number rounded to nearest double (exact when it fits). */
double nr_codec_exact_to_double(const nr_exact *x);

/* The one round-and-pack: exact value -> encoding of f. sr_bits is used
 * only by NR_RND_SR. [rnd-*] */
uint64_t nr_round_exact(const nr_format *f, nr_rounding mode, const nr_exact *x,
                        uint32_t sr_bits, unsigned *flags);

/* ---------------------------------------------------------------- encode / decode */

uint64_t nr_encode(const nr_format *f, nr_rounding mode, double x, uint32_t sr_bits,
                   unsigned *flags);
uint64_t nr_codec_encode_f32(const nr_format *f, nr_rounding mode, float x, uint32_t sr_bits,
                       unsigned *flags);
void nr_codec_decode_exact(const nr_format *f, uint64_t bits, nr_exact *out);
/* Exact for every float format (all values are doubles, [fmt-range]) and
 * for fixed formats of up to 53 magnitude bits; otherwise nearest double. */
double nr_decode(const nr_format *f, uint64_t bits);
nr_class nr_codec_classify(const nr_format *f, uint64_t bits);
int nr_is_canonical(const nr_format *f, uint64_t bits); /* 0 for e.g. -nosub exp-0 nonzero mantissa */
/* Value result: decode(encode(x)). */
double nr_round(const nr_format *f, nr_rounding mode, double x, uint32_t sr_bits,
                unsigned *flags);

/* ---------------------------------------------------------------- arithmetic
 * Operands and result are encodings in f.  Each is the exact result rounded
 * once ([op-*]).  NaN results are the canonical NaN. */
uint64_t nr_add(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr, unsigned *fl);
uint64_t nr_sub(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr, unsigned *fl);
uint64_t nr_mul(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr, unsigned *fl);
uint64_t nr_div(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint32_t sr, unsigned *fl);
uint64_t nr_fma(const nr_format *f, nr_rounding m, uint64_t a, uint64_t b, uint64_t c, uint32_t sr,
                unsigned *fl); /* a*b + c */
uint64_t nr_sqrt(const nr_format *f, nr_rounding m, uint64_t a, uint32_t sr, unsigned *fl);
uint64_t nr_arith_convert(const nr_format *to, nr_rounding m, const nr_format *from, uint64_t a,
                    uint32_t sr, unsigned *fl);
/* Exact operations on exact values (used by the above and by the emulator
 * for MAC modes that round once).  Exact when neither operand carries a
 * sticky bit (format values, or one add of an exact product); summing many
 * sticky values needs a long accumulator instead.  The mode only decides the
 * sign of an exact zero sum ([rnd-4]: +0, or -0 under rd; -0 + -0 = -0). */
void nr_arith_exact_add(const nr_exact *a, const nr_exact *b, nr_rounding mode, nr_exact *out);
void nr_arith_exact_mul(const nr_exact *a, const nr_exact *b, nr_exact *out);
/* Exact quotient a / b, plus sticky when inexact (the divisor's
 * significand must fit 64 bits to be exact: true of every format value and
 * double).  Used by scaled formats' V / X [scl-elem]. */
void nr_exact_div(const nr_exact *a, const nr_exact *b, nr_exact *out);

/* ---------------------------------------------------------------- bulk kernels
 * Arrays, multithreaded and vectorised, bit-identical to the scalar
 * functions above.  threads <= 0 means nr_threads_default().  For SR the
 * draw of element i is nr_sr_bits(seed, 0, first + i, 0). */
int nr_threads_default(void);
void nr_bulk_round_f32(const nr_format *f, nr_rounding mode, uint64_t seed, uint64_t first,
                       const float *in, float *out, size_t n, int threads);
/* Packed bits in the format's container (1/2/4/8 bytes, little-endian). */
void nr_bulk_encode_f32(const nr_format *f, nr_rounding mode, uint64_t seed, uint64_t first,
                        const float *in, void *out, size_t n, int threads);
void nr_bulk_decode_f32(const nr_format *f, const void *in, float *out, size_t n, int threads);

/* pack.c: dense bit-packing, value k at bit k*width LSB first ([--pack
 * dense]); n values take nr_pack_bytes bytes.  nr_pack_put ORs the width
 * low bits of v in (zero the bytes first); nr_pack_dense / nr_unpack_dense
 * convert whole arrays of encodings in f's container. */
size_t nr_pack_bytes(int width, size_t n);
void nr_pack_put(uint8_t *base, int width, uint64_t k, uint64_t v);
uint64_t nr_pack_get(const uint8_t *base, int width, uint64_t k);
void nr_pack_dense(const nr_format *f, const void *in, size_t n, uint8_t *out);
void nr_unpack_dense(const nr_format *f, const uint8_t *in, size_t n, void *out);
/* Encoding i of an array in a container of 1/2/4/8 bytes (host order). */
uint64_t nr_container_load(const void *in, int container, size_t i);
void nr_container_store(void *out, int container, size_t i, uint64_t b);

#ifdef __cplusplus
}
#endif
#endif
