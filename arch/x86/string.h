/* memset/memcpy/memmove/memcmp for code shared by the core (freestanding: arch/x86/string.c supplies
 * them) and the host tests (the C library's). GCC may also emit calls to these itself. */
#ifndef ARCH_X86_STRING_H
#define ARCH_X86_STRING_H

#include <stddef.h>

#ifdef HOST_TEST
#include <string.h>
#else
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* -ffreestanding turns off GCC's own expansion of these: a constant-size clear or copy of a small
 * struct (the exit path has a dozen) becomes a few stores instead of a call (in the core: two REP
 * instructions; in the EFI apps: libefi's loop, several instructions a byte). */
#define memset(d, c, n) __builtin_memset((d), (c), (n))
#define memcpy(d, s, n) __builtin_memcpy((d), (s), (n))
#endif

#endif
