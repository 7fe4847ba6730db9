/* Test-and-test-and-set spinlock; the core runs with interrupts off, so no IRQ-safe variant is needed. */
#ifndef ARCH_X86_SPINLOCK_H
#define ARCH_X86_SPINLOCK_H

#include <stdint.h>
#include "arch/x86/cpu.h"

struct spinlock { volatile uint32_t locked; };

static inline void spin_lock(struct spinlock *l)
{
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
        while (l->locked)
            cpu_relax();
}

static inline void spin_unlock(struct spinlock *l) { __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE); }

#endif
