/* sr.c -- random bits for stochastic rounding ([rnd-sr]).
 *
 * A counter-based generator: the draw is a pure function of
 * (seed, layer, element, term), so results do not depend on thread order
 * or on which implementation (emulator, bulk kernel, generated code) makes
 * the draw.  Three rounds of the splitmix64 finaliser, each absorbing one
 * coordinate; generated code emits the same integer operations. */
#include "numrep.h"

uint32_t nr_sr_bits(uint64_t seed, uint32_t layer, uint64_t element, uint32_t term)
{
    uint64_t h = nr_hash_mix64(seed + NR_HASH_GOLDEN);
    h = nr_hash_mix64(h ^ ((uint64_t)layer << 32 | term));
    h = nr_hash_mix64(h + element * NR_HASH_GOLDEN);
    return (uint32_t)(h >> 32);
}
