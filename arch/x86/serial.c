#include "arch/x86/serial.h"
#include "arch/x86/cpu.h"

enum { UART_DATA = 0, UART_IER = 1, UART_FCR = 2, UART_LCR = 3, UART_MCR = 4, UART_LSR = 5 };
#define LSR_THR_EMPTY 0x20
#define LSR_TX_IDLE   0x40

void serial_init(void)
{
    outb(COM1_PORT + UART_IER, 0x00);   /* polled: no interrupts that the root would not expect */
    outb(COM1_PORT + UART_LCR, 0x80);   /* DLAB to set the divisor */
    outb(COM1_PORT + UART_DATA, 0x01);  /* 115200 baud */
    outb(COM1_PORT + UART_IER, 0x00);
    outb(COM1_PORT + UART_LCR, 0x03);   /* 8N1 */
    outb(COM1_PORT + UART_FCR, 0x07);   /* FIFO on, cleared */
    outb(COM1_PORT + UART_MCR, 0x03);   /* DTR, RTS */
}

static void put_raw(char c)
{
    /* Bounded wait: a missing UART must not hang the hypervisor. */
    for (unsigned spins = 0; spins < 100000 && !(inb(COM1_PORT + UART_LSR) & LSR_THR_EMPTY); spins++)
        cpu_relax();
    outb(COM1_PORT + UART_DATA, (uint8_t)c);
}

void serial_write(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            put_raw('\r');
        put_raw(s[i]);
    }
}

void serial_drain(void)
{
    for (unsigned spins = 0; spins < 1000000 && !(inb(COM1_PORT + UART_LSR) & LSR_TX_IDLE); spins++)
        cpu_relax();
}
