/* VMCS field encodings (SDM vol. 3, Appendix B). Bits 14:13 of an encoding give its width
 * (0 16-bit, 1 64-bit, 2 32-bit, 3 natural width), bits 11:10 its type (0 control, 1 read-only data,
 * 2 guest state, 3 host state); bit 0 selects the high half of a 64-bit field. */
#ifndef VMX_VMCS_FIELDS_H
#define VMX_VMCS_FIELDS_H

enum vmcs_field {
    /* 16-bit */
    VMCS_VPID                       = 0x0000,
    VMCS_GUEST_ES_SEL = 0x0800, VMCS_GUEST_CS_SEL = 0x0802, VMCS_GUEST_SS_SEL = 0x0804,
    VMCS_GUEST_DS_SEL = 0x0806, VMCS_GUEST_FS_SEL = 0x0808, VMCS_GUEST_GS_SEL = 0x080A,
    VMCS_GUEST_LDTR_SEL = 0x080C, VMCS_GUEST_TR_SEL = 0x080E,
    VMCS_HOST_ES_SEL = 0x0C00, VMCS_HOST_CS_SEL = 0x0C02, VMCS_HOST_SS_SEL = 0x0C04,
    VMCS_HOST_DS_SEL = 0x0C06, VMCS_HOST_FS_SEL = 0x0C08, VMCS_HOST_GS_SEL = 0x0C0A,
    VMCS_HOST_TR_SEL = 0x0C0C,

    /* 64-bit control */
    VMCS_IO_BITMAP_A = 0x2000, VMCS_IO_BITMAP_B = 0x2002, VMCS_MSR_BITMAP = 0x2004,
    VMCS_EXIT_MSR_STORE_ADDR = 0x2006, VMCS_EXIT_MSR_LOAD_ADDR = 0x2008,
    VMCS_ENTRY_MSR_LOAD_ADDR = 0x200A, VMCS_TSC_OFFSET = 0x2010, VMCS_VIRTUAL_APIC_ADDR = 0x2012,
    VMCS_APIC_ACCESS_ADDR = 0x2014, VMCS_EPT_POINTER = 0x201A, VMCS_XSS_EXIT_BITMAP = 0x202C,
    /* 64-bit read-only */
    VMCS_GUEST_PHYSICAL_ADDR = 0x2400,
    /* 64-bit guest */
    VMCS_LINK_POINTER = 0x2800, VMCS_GUEST_DEBUGCTL = 0x2802, VMCS_GUEST_PAT = 0x2804,
    VMCS_GUEST_EFER = 0x2806, VMCS_GUEST_PDPTE0 = 0x280A, VMCS_GUEST_PDPTE1 = 0x280C,
    VMCS_GUEST_PDPTE2 = 0x280E, VMCS_GUEST_PDPTE3 = 0x2810,
    /* 64-bit host */
    VMCS_HOST_PAT = 0x2C00, VMCS_HOST_EFER = 0x2C02,

    /* 32-bit control */
    VMCS_PIN_CONTROLS = 0x4000, VMCS_PROC_CONTROLS = 0x4002, VMCS_EXCEPTION_BITMAP = 0x4004,
    VMCS_PF_ERROR_MASK = 0x4006, VMCS_PF_ERROR_MATCH = 0x4008, VMCS_CR3_TARGET_COUNT = 0x400A,
    VMCS_EXIT_CONTROLS = 0x400C, VMCS_EXIT_MSR_STORE_COUNT = 0x400E,
    VMCS_EXIT_MSR_LOAD_COUNT = 0x4010, VMCS_ENTRY_CONTROLS = 0x4012,
    VMCS_ENTRY_MSR_LOAD_COUNT = 0x4014, VMCS_ENTRY_INTR_INFO = 0x4016,
    VMCS_ENTRY_EXCEPTION_ERROR = 0x4018, VMCS_ENTRY_INSTR_LEN = 0x401A, VMCS_TPR_THRESHOLD = 0x401C,
    VMCS_PROC_CONTROLS2 = 0x401E,
    /* 32-bit read-only */
    VMCS_VM_INSTR_ERROR = 0x4400, VMCS_EXIT_REASON = 0x4402, VMCS_EXIT_INTR_INFO = 0x4404,
    VMCS_EXIT_INTR_ERROR = 0x4406, VMCS_IDT_VECTORING_INFO = 0x4408,
    VMCS_IDT_VECTORING_ERROR = 0x440A, VMCS_EXIT_INSTR_LEN = 0x440C, VMCS_EXIT_INSTR_INFO = 0x440E,
    /* 32-bit guest */
    VMCS_GUEST_ES_LIMIT = 0x4800, VMCS_GUEST_CS_LIMIT = 0x4802, VMCS_GUEST_SS_LIMIT = 0x4804,
    VMCS_GUEST_DS_LIMIT = 0x4806, VMCS_GUEST_FS_LIMIT = 0x4808, VMCS_GUEST_GS_LIMIT = 0x480A,
    VMCS_GUEST_LDTR_LIMIT = 0x480C, VMCS_GUEST_TR_LIMIT = 0x480E,
    VMCS_GUEST_GDTR_LIMIT = 0x4810, VMCS_GUEST_IDTR_LIMIT = 0x4812,
    VMCS_GUEST_ES_AR = 0x4814, VMCS_GUEST_CS_AR = 0x4816, VMCS_GUEST_SS_AR = 0x4818,
    VMCS_GUEST_DS_AR = 0x481A, VMCS_GUEST_FS_AR = 0x481C, VMCS_GUEST_GS_AR = 0x481E,
    VMCS_GUEST_LDTR_AR = 0x4820, VMCS_GUEST_TR_AR = 0x4822,
    VMCS_GUEST_INTERRUPTIBILITY = 0x4824, VMCS_GUEST_ACTIVITY_STATE = 0x4826,
    VMCS_GUEST_SMBASE = 0x4828, VMCS_GUEST_SYSENTER_CS = 0x482A, VMCS_PREEMPTION_TIMER = 0x482E,
    /* 32-bit host */
    VMCS_HOST_SYSENTER_CS = 0x4C00,

    /* natural-width control */
    VMCS_CR0_GUEST_HOST_MASK = 0x6000, VMCS_CR4_GUEST_HOST_MASK = 0x6002,
    VMCS_CR0_READ_SHADOW = 0x6004, VMCS_CR4_READ_SHADOW = 0x6006,
    /* natural-width read-only */
    VMCS_EXIT_QUALIFICATION = 0x6400, VMCS_GUEST_LINEAR_ADDR = 0x640A,
    /* natural-width guest */
    VMCS_GUEST_CR0 = 0x6800, VMCS_GUEST_CR3 = 0x6802, VMCS_GUEST_CR4 = 0x6804,
    VMCS_GUEST_ES_BASE = 0x6806, VMCS_GUEST_CS_BASE = 0x6808, VMCS_GUEST_SS_BASE = 0x680A,
    VMCS_GUEST_DS_BASE = 0x680C, VMCS_GUEST_FS_BASE = 0x680E, VMCS_GUEST_GS_BASE = 0x6810,
    VMCS_GUEST_LDTR_BASE = 0x6812, VMCS_GUEST_TR_BASE = 0x6814,
    VMCS_GUEST_GDTR_BASE = 0x6816, VMCS_GUEST_IDTR_BASE = 0x6818, VMCS_GUEST_DR7 = 0x681A,
    VMCS_GUEST_RSP = 0x681C, VMCS_GUEST_RIP = 0x681E, VMCS_GUEST_RFLAGS = 0x6820,
    VMCS_GUEST_PENDING_DBG = 0x6822, VMCS_GUEST_SYSENTER_ESP = 0x6824,
    VMCS_GUEST_SYSENTER_EIP = 0x6826,
    /* natural-width host */
    VMCS_HOST_CR0 = 0x6C00, VMCS_HOST_CR3 = 0x6C02, VMCS_HOST_CR4 = 0x6C04,
    VMCS_HOST_FS_BASE = 0x6C06, VMCS_HOST_GS_BASE = 0x6C08, VMCS_HOST_TR_BASE = 0x6C0A,
    VMCS_HOST_GDTR_BASE = 0x6C0C, VMCS_HOST_IDTR_BASE = 0x6C0E,
    VMCS_HOST_SYSENTER_ESP = 0x6C10, VMCS_HOST_SYSENTER_EIP = 0x6C12,
    VMCS_HOST_RSP = 0x6C14, VMCS_HOST_RIP = 0x6C16,
};

enum vmcs_width { VMCS_W16 = 0, VMCS_W64 = 1, VMCS_W32 = 2, VMCS_WNAT = 3 };
#define VMCS_FIELD_WIDTH(f) ((enum vmcs_width)(((unsigned)(f) >> 13) & 3))

/* Pin-based controls (SDM 25.6.1) */
#define PIN_EXTERNAL_INTERRUPT_EXITING (1u << 0)
#define PIN_NMI_EXITING                (1u << 3)
#define PIN_VIRTUAL_NMIS               (1u << 5)
#define PIN_PREEMPTION_TIMER           (1u << 6)
/* Primary processor-based controls (25.6.2) */
#define PROC_INTERRUPT_WINDOW_EXITING  (1u << 2)
#define PROC_USE_TSC_OFFSETTING        (1u << 3)
#define PROC_HLT_EXITING               (1u << 7)
#define PROC_INVLPG_EXITING            (1u << 9)
#define PROC_MWAIT_EXITING             (1u << 10)
#define PROC_RDPMC_EXITING             (1u << 11)
#define PROC_RDTSC_EXITING             (1u << 12)
#define PROC_CR3_LOAD_EXITING          (1u << 15)
#define PROC_CR3_STORE_EXITING         (1u << 16)
#define PROC_CR8_LOAD_EXITING          (1u << 19)
#define PROC_CR8_STORE_EXITING         (1u << 20)
#define PROC_NMI_WINDOW_EXITING        (1u << 22)
#define PROC_MOV_DR_EXITING            (1u << 23)
#define PROC_UNCONDITIONAL_IO_EXITING  (1u << 24)
#define PROC_USE_IO_BITMAPS            (1u << 25)
#define PROC_MONITOR_TRAP_FLAG         (1u << 27)
#define PROC_USE_MSR_BITMAPS           (1u << 28)
#define PROC_MONITOR_EXITING           (1u << 29)
#define PROC_PAUSE_EXITING             (1u << 30)
#define PROC_ACTIVATE_SECONDARY        (1u << 31)
/* Secondary processor-based controls */
#define PROC2_ENABLE_EPT               (1u << 1)
#define PROC2_DESCRIPTOR_TABLE_EXITING (1u << 2)
#define PROC2_ENABLE_RDTSCP            (1u << 3)
#define PROC2_ENABLE_VPID              (1u << 5)
#define PROC2_WBINVD_EXITING           (1u << 6)
#define PROC2_UNRESTRICTED_GUEST       (1u << 7)
#define PROC2_ENABLE_INVPCID           (1u << 12)
#define PROC2_ENABLE_XSAVES            (1u << 20)
/* VM-exit controls (25.7.1) */
#define EXIT_SAVE_DEBUG_CONTROLS       (1u << 2)
#define EXIT_HOST_ADDRESS_SPACE_SIZE   (1u << 9)
#define EXIT_ACK_INTERRUPT_ON_EXIT     (1u << 15)
#define EXIT_SAVE_PAT                  (1u << 18)
#define EXIT_LOAD_PAT                  (1u << 19)
#define EXIT_SAVE_EFER                 (1u << 20)
#define EXIT_LOAD_EFER                 (1u << 21)
#define EXIT_SAVE_PREEMPTION_TIMER     (1u << 22)
/* VM-entry controls (25.8.1) */
#define ENTRY_LOAD_DEBUG_CONTROLS      (1u << 2)
#define ENTRY_IA32E_MODE_GUEST         (1u << 9)
#define ENTRY_LOAD_PAT                 (1u << 14)
#define ENTRY_LOAD_EFER                (1u << 15)

/* Interruption-information format (VM-entry 25.8.3, VM-exit 25.9.2) */
#define INTR_INFO_VALID                (1u << 31)
#define INTR_INFO_ERROR_CODE_VALID     (1u << 11)
#define INTR_INFO_NMI_UNBLOCKING       (1u << 12)
#define INTR_TYPE_EXTERNAL             (0u << 8)
#define INTR_TYPE_NMI                  (2u << 8)
#define INTR_TYPE_HW_EXCEPTION         (3u << 8)
#define INTR_TYPE_SW_INTERRUPT         (4u << 8)
#define INTR_TYPE_PRIV_SW_EXCEPTION    (5u << 8)
#define INTR_TYPE_SW_EXCEPTION         (6u << 8)

/* Guest interruptibility state (25.4.2) */
#define INTERRUPTIBILITY_STI           (1u << 0)
#define INTERRUPTIBILITY_MOV_SS        (1u << 1)
#define INTERRUPTIBILITY_NMI           (1u << 3)

enum guest_activity { ACTIVITY_ACTIVE = 0, ACTIVITY_HLT = 1, ACTIVITY_SHUTDOWN = 2, ACTIVITY_WAIT_SIPI = 3 };

#define VMX_EXIT_REASON_ENTRY_FAILURE  (1u << 31)

#endif
