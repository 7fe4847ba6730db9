/* Offsets shared by C and the NASM stubs. The Makefile turns every "#define X N" line of this file into
 * "%define X N" for NASM (build/regs_layout.inc); vmx/percpu.h checks each against the C structs with
 * _Static_assert, so the two can never drift apart. Keep this file to plain #define lines. */
#define REGS_RAX 0
#define REGS_RCX 8
#define REGS_RDX 16
#define REGS_RBX 24
#define REGS_RSP 32
#define REGS_RBP 40
#define REGS_RSI 48
#define REGS_RDI 56
#define REGS_R8 64
#define REGS_R9 72
#define REGS_R10 80
#define REGS_R11 88
#define REGS_R12 96
#define REGS_R13 104
#define REGS_R14 112
#define REGS_R15 120
#define REGS_SIZE 128
#define CPU_SELF 0
#define CPU_CURRENT_REGS 8
#define CPU_NMI_PENDING 16
#define CPU_LAUNCH_PENDING 20
#define CPU_HOST_STACK_TOP 24
