/* fake_model.c -- a hand-written stand-in for a `numrep build --emit obj`
 * object: the same entry points (gen/lower/model_gen.h), a read-only
 * numrep_weights blob and a caller-supplied arena, computing something
 * simple in float32: h = x/2 + 1/4 (kept in the arena), then 10 dot
 * products with weights w = int8/16, each divided by 3.  It proves the
 * edge chain (startup, linker script, semihosting, harness, the npy
 * scripts) independently of the generator: the same source compiled for
 * the build machine, Cortex-M4 (FPU), Cortex-M0 (soft float) and aarch64
 * must print the same bits.  Build with -ffp-contract=off: a fused
 * multiply-add would round differently on targets that have one.
 * Sizes must match the fake model.h that cli_edge.sh fills from
 * templates/model.h.in. */
#include <stdint.h>

#define FAKE_IN 784
#define FAKE_OUT 10
#define FAKE_ARENA (FAKE_IN * 4)

int numrep_model_run_arena(const float *in, float *out, int n, void *arena);

const uint8_t numrep_weights[64] __attribute__((aligned(64))) = {
    0x11, 0xf3, 0x27, 0x80, 0x05, 0x7f, 0xc2, 0x3a, 0x00, 0x9d, 0x41, 0xe8, 0x16, 0x6b, 0xd4, 0x02,
    0xfe, 0x33, 0x8a, 0x5c, 0x21, 0xb7, 0x0e, 0x74, 0xcd, 0x49, 0x93, 0x18, 0x60, 0xaf, 0x37, 0xea,
    0x0b, 0x55, 0xc8, 0x2e, 0x7a, 0x91, 0x04, 0xdb, 0x66, 0x1f, 0xb0, 0x43, 0xf9, 0x28, 0x8e, 0x71,
    0x13, 0xa5, 0x3c, 0xd0, 0x59, 0x87, 0x0a, 0xf4, 0x62, 0x1c, 0xbe, 0x35, 0xe1, 0x4a, 0x96, 0x2b,
};

int numrep_model_run_arena(const float *in, float *out, int n, void *arena)
{
    float *h = arena;
    for (int s = 0; s < n; s++, in += FAKE_IN, out += FAKE_OUT) {
        for (int i = 0; i < FAKE_IN; i++)
            h[i] = in[i] * 0.5f + 0.25f;
        for (int k = 0; k < FAKE_OUT; k++) {
            float acc = 0.0f;
            for (int i = 0; i < FAKE_IN; i++)
                acc += h[i] * ((float)(int8_t)numrep_weights[(i * 7 + k * 13) & 63] / 16.0f);
            out[k] = acc / 3.0f;
        }
    }
    return 0;
}

uint64_t numrep_model_input_size(void) { return FAKE_IN; }
uint64_t numrep_model_output_size(void) { return FAKE_OUT; }
uint64_t numrep_model_arena_size(void) { return FAKE_ARENA; }

void numrep_model_input_shape(int shape[3])
{
    shape[0] = 1;
    shape[1] = 28;
    shape[2] = 28;
}

void numrep_model_output_shape(int shape[3])
{
    shape[0] = FAKE_OUT;
    shape[1] = 1;
    shape[2] = 1;
}
