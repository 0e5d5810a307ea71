/* sr.c -- random bits for stochastic rounding ([rnd-sr]).
 *
 * A counter-based generator: the draw is a pure function of
 * (seed, layer, element, term), so results do not depend on thread order
 * or on which implementation (emulator, bulk kernel, generated code) makes
 * the draw.  Three rounds of the splitmix64 finaliser, each absorbing one
 * coordinate; generated code emits the same integer operations. */
#include "numrep.h"

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint32_t nr_sr_bits(uint64_t seed, uint32_t layer, uint64_t element, uint32_t term)
{
    uint64_t h = mix64(seed + 0x9E3779B97F4A7C15ull);
    h = mix64(h ^ ((uint64_t)layer << 32 | term));
    h = mix64(h + element * 0x9E3779B97F4A7C15ull);
    return (uint32_t)(h >> 32);
}
