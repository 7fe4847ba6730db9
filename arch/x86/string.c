/* memset and memcpy for the core (gnu-efi's libefi supplies them to the EFI apps). The rest of the
 * freestanding string functions are in arch/x86/string_ops.c, shared by the core and the EFI apps.
 * REP STOSQ/MOVSQ: the exit path clears and copies 224-byte exit contexts on every exit, and byte loops
 * cost several instructions a byte (measured with make bench). */
#include "arch/x86/string.h"
#include <stdint.h>

#undef memset   /* the functions themselves, not string.h's expansions */
#undef memcpy

void *memset(void *d, int c, size_t n)
{
    uint64_t pattern = 0x0101010101010101ull * (uint8_t)c;
    void *p = d;
    size_t words = n / 8, tail = n % 8;
    __asm__ volatile("rep stosq" : "+D"(p), "+c"(words) : "a"(pattern) : "memory");
    __asm__ volatile("rep stosb" : "+D"(p), "+c"(tail) : "a"(pattern) : "memory");
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    void *dp = d;
    const void *sp = s;
    size_t words = n / 8, tail = n % 8;
    __asm__ volatile("rep movsq" : "+D"(dp), "+S"(sp), "+c"(words) : : "memory");
    __asm__ volatile("rep movsb" : "+D"(dp), "+S"(sp), "+c"(tail) : : "memory");
    return d;
}
