/* Polled 16550 UART on COM1: works before, during and after the firmware, and from VMX root. */
#ifndef ARCH_X86_SERIAL_H
#define ARCH_X86_SERIAL_H

#include <stddef.h>

#define COM1_PORT 0x3F8

void serial_init(void);                 /* 115200 8N1, FIFOs on; safe to call more than once */
void serial_write(const char *s, size_t n);  /* LF becomes CR LF */
void serial_drain(void);                /* waits until the transmitter is empty */

#endif
