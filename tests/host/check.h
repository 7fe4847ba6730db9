/* Minimal host unit-test framework.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_EQ(a, b); }
 *
 * Tests register themselves (constructor attribute); tests/host/main.c runs them all and prints one TAP
 * line per test plus "host: N passed, N failed". A CHECK failure records file:line and the expression,
 * keeps going, and fails the test. */
#ifndef TESTS_HOST_CHECK_H
#define TESTS_HOST_CHECK_H

#include <stdint.h>
#include <stdio.h>

struct host_test {
    const char *name;
    void (*fn)(void);
    struct host_test *next;
};

void host_test_register(struct host_test *t);
void host_check_failed(const char *file, int line, const char *expr, const char *detail);

#define TEST(name)                                                                   \
    static void test_fn_##name(void);                                                \
    static struct host_test test_rec_##name = { #name, test_fn_##name, 0 };          \
    __attribute__((constructor)) static void test_reg_##name(void)                   \
    { host_test_register(&test_rec_##name); }                                        \
    static void test_fn_##name(void)

#define CHECK(cond)                                                                  \
    do { if (!(cond)) host_check_failed(__FILE__, __LINE__, #cond, 0); } while (0)

/* Compares as unsigned 64-bit and prints both values in hex on failure. */
#define CHECK_EQ(a, b)                                                               \
    do {                                                                             \
        uint64_t check_a_ = (uint64_t)(a), check_b_ = (uint64_t)(b);                 \
        if (check_a_ != check_b_) {                                                  \
            char check_d_[96];                                                       \
            snprintf(check_d_, sizeof check_d_, "0x%llx != 0x%llx",                 \
                     (unsigned long long)check_a_, (unsigned long long)check_b_);    \
            host_check_failed(__FILE__, __LINE__, #a " == " #b, check_d_);           \
        }                                                                            \
    } while (0)

#endif
