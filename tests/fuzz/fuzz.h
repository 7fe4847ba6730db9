/* Shared by the host fuzz harnesses (tests/fuzz/fuzz_*.c, docs/fuzzing.md): a reader that turns the
 * fuzzer's bytes into values (running dry gives zeros, so every input is a complete case), and FUZZ_CHECK,
 * which reports a broken invariant and aborts so that libFuzzer records the input as a crash. */
#ifndef TESTS_FUZZ_FUZZ_H
#define TESTS_FUZZ_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_in {
    const uint8_t *data;
    size_t size, at;
};

static inline struct fuzz_in fuzz_in(const uint8_t *data, size_t size)
{
    return (struct fuzz_in){ data, size, 0 };
}

static inline bool fuzz_more(const struct fuzz_in *in)
{
    return in->at < in->size;
}

/* Little-endian, `bytes` of them (at most 8), zero past the end. */
static inline uint64_t fuzz_take(struct fuzz_in *in, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++)
        if (in->at < in->size)
            v |= (uint64_t)in->data[in->at++] << (8 * i);
    return v;
}

static inline uint8_t fuzz_u8(struct fuzz_in *in) { return (uint8_t)fuzz_take(in, 1); }
static inline uint16_t fuzz_u16(struct fuzz_in *in) { return (uint16_t)fuzz_take(in, 2); }
static inline uint32_t fuzz_u32(struct fuzz_in *in) { return (uint32_t)fuzz_take(in, 4); }
static inline uint64_t fuzz_u64(struct fuzz_in *in) { return fuzz_take(in, 8); }
static inline bool fuzz_bool(struct fuzz_in *in) { return fuzz_u8(in) & 1; }

#define FUZZ_CHECK(cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#endif
