/* The core's only printf: logs and VMCS dumps are useless if numbers print wrong. */
#include "check.h"
#include <string.h>
#include "arch/x86/format.h"

#define EXPECT_FMT(want, ...)                                                   \
    do {                                                                        \
        char b_[128];                                                           \
        size_t n_ = fmt_snprintf(b_, sizeof b_, __VA_ARGS__);                   \
        CHECK(strcmp(b_, want) == 0);                                           \
        CHECK_EQ(n_, strlen(want));                                             \
        if (strcmp(b_, want)) printf("#   got \"%s\" want \"%s\"\n", b_, want); \
    } while (0)

TEST(format_conversions)
{
    EXPECT_FMT("a 42 -7 ff FF", "a %d %i %x %X", 42, -7, 255, 255);
    EXPECT_FMT("0x00000000deadbeef", "%p", (void *)0xdeadbeefull);
    EXPECT_FMT("ffffffffffffffff", "%llx", (unsigned long long)-1);
    EXPECT_FMT("18446744073709551615", "%lu", (unsigned long)-1);
    EXPECT_FMT("-9223372036854775808", "%ld", (long)(-9223372036854775807L - 1));
    EXPECT_FMT("[  ab][ab  ][00ab][-005]", "[%4s][%-4s][%04x][%04d]", "ab", "ab", 0xab, -5);
    const char *volatile null_str = 0;
    EXPECT_FMT("x(null)%c", "x%s%%%c", null_str, 'c');
}

TEST(format_truncates_and_terminates)
{
    char b[6];
    CHECK_EQ(fmt_snprintf(b, sizeof b, "hello world"), 5);
    CHECK(strcmp(b, "hello") == 0);
    CHECK_EQ(fmt_snprintf(b, 1, "x"), 0);
    CHECK_EQ(b[0], 0);
}
