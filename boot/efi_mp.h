/* EFI_MP_SERVICES_PROTOCOL (UEFI PI spec, vol. 2, 13.4): gnu-efi does not define it. Only the members
 * the loader calls are typed; the rest are placeholders that keep the layout. */
#ifndef BOOT_EFI_MP_H
#define BOOT_EFI_MP_H

#include <efi.h>

#define EFI_MP_SERVICES_PROTOCOL_GUID \
    { 0x3fdda605, 0xa76e, 0x4f46, { 0xad, 0x29, 0x12, 0xf4, 0x53, 0x1b, 0x3d, 0x08 } }

/* Functions the firmware calls back (AP procedures, event notifications) use the Microsoft x64
 * convention. gnu-efi's EFIAPI is empty unless GNU_EFI_USE_MS_ABI is defined (which breaks its crt0),
 * so callbacks must say so themselves. */
#define EFI_CALLBACK __attribute__((ms_abi))

typedef VOID (EFI_CALLBACK *EFI_AP_PROCEDURE)(VOID *Buffer);

struct efi_mp_services;
typedef struct efi_mp_services {
    EFI_STATUS (EFIAPI *GetNumberOfProcessors)(struct efi_mp_services *This, UINTN *NumberOfProcessors,
                                               UINTN *NumberOfEnabledProcessors);
    VOID *GetProcessorInfo;
    EFI_STATUS (EFIAPI *StartupAllAPs)(struct efi_mp_services *This, EFI_AP_PROCEDURE Procedure,
                                       BOOLEAN SingleThread, EFI_EVENT WaitEvent,
                                       UINTN TimeoutInMicroSeconds, VOID *ProcedureArgument,
                                       UINTN **FailedCpuList);
    VOID *StartupThisAP;
    VOID *SwitchBSP;
    VOID *EnableDisableAP;
    EFI_STATUS (EFIAPI *WhoAmI)(struct efi_mp_services *This, UINTN *ProcessorNumber);
} EFI_MP_SERVICES_PROTOCOL;

#endif
