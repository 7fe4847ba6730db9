#ifndef ARCH_X86_MTRR_READ_H
#define ARCH_X86_MTRR_READ_H
#include "arch/x86/mtrr.h"
void mtrr_read(struct mtrr_state *m);
#endif
