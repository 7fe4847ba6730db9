/* memset and memcpy for the core (gnu-efi's libefi supplies them to the EFI apps). The rest of the
 * freestanding string functions are in arch/x86/string_ops.c, shared by the core and the EFI apps. */
#include "arch/x86/string.h"
#include <stdint.h>

void *memset(void *d, int c, size_t n)
{
    uint8_t *p = d;
    while (n--)
        *p++ = (uint8_t)c;
    return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
    uint8_t *dp = d;
    const uint8_t *sp = s;
    while (n--)
        *dp++ = *sp++;
    return d;
}
