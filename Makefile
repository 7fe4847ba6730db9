# Build and test entry points. See README.md.
#   make             the EFI image (loader with the core embedded), the test payload and a boot disk
#   make run         boot it (QEMU+KVM on an Intel VT-x host, else Bochs) and stream COM1
#   make test        every test tier; ends with one line "N passed, N failed"
#   make image       build/hvx-usb.img: a GPT disk image for a USB stick / real hardware
#   make host-test   only the host unit tier

BUILD    ?= build
HOSTCC   ?= gcc
CC       := gcc
NASM     := nasm
LD       := ld
OBJCOPY  := objcopy
GIT_REV  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BUILD_ID := hvx 0.1.0 (git $(GIT_REV))

# ---- pure C shared by the core/loader and the host unit tests
PURE_SRCS := arch/x86/format.c arch/x86/mtrr.c boot/config.c boot/cpu_check.c boot/host_paging.c \
             boot/memmap.c vmx/ept.c vmx/hypercall_validate.c vmx/segment.c vmx/vmx_caps.c vmx/vmx_errors.c \
             vmx/exit_decode.c vmx/gpa_map.c vmx/guest_walk.c api/whv_lib.c api/whv_deferred.c api/hv_transport.c
HOST_TEST_SRCS := $(wildcard tests/host/*.c) $(filter-out tools/exitc_main.c,$(wildcard tools/exitc*.c))
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -DHOST_TEST \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined
HEADERS := $(wildcard */*.h */*/*.h)

# ---- the core: freestanding, linked at CORE_LINK_BASE, no SSE/x87 (it does not save the root's state).
# Link-time optimization lets the exit path's small cross-file helpers inline: in Bochs a call and its
# return cost about 18 emulated ticks against about 1 for a plain instruction, and -flto took b in
# `make bench` from 2293 to 2033 ticks (docs/bench.md). Flags changes rebuild nothing by themselves:
# `rm -rf $(BUILD)/core` after editing them.
CORE_SRCS := arch/x86/format.c arch/x86/gdt.c arch/x86/idt.c arch/x86/log.c arch/x86/mtrr.c \
             arch/x86/mtrr_read.c arch/x86/pool.c arch/x86/serial.c arch/x86/string.c arch/x86/string_ops.c \
             vmx/core_main.c vmx/ept.c vmx/exit_cpuid.c vmx/exit_cr.c vmx/exit_dispatch.c vmx/exit_ept.c \
             vmx/exit_init_sipi.c vmx/exit_misc.c vmx/exit_msr.c vmx/hypercall.c vmx/hypercall_validate.c \
             vmx/inject.c vmx/root_vmcs.c vmx/segment.c vmx/vmcs_dump.c vmx/vmx_caps.c vmx/vmx_errors.c \
             vmx/vmx_on.c vmx/exit_decode.c vmx/gpa_map.c vmx/partition.c vmx/vp_vmcs.c vmx/vp_registers.c \
             vmx/vp_run.c vmx/hypercall_partition.c vmx/guest_walk.c vmx/vp_switch.c
CORE_ASM := arch/x86/isr.asm vmx/vmx_entry.asm
CORE_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -I. -DHV_CORE -ffreestanding -fno-pic -fno-pie \
               -mcmodel=kernel -mno-red-zone -mgeneral-regs-only -fno-stack-protector \
               -fno-asynchronous-unwind-tables -fno-omit-frame-pointer -flto $(CORE_EXTRA_CFLAGS)
CORE_OBJS := $(CORE_SRCS:%.c=$(BUILD)/core/%.o) $(CORE_ASM:%.asm=$(BUILD)/core/%.o)

# ---- GNU-EFI applications: the loader and the root-partition test payload
EFI_INC  := -I/usr/include/efi -I/usr/include/efi/x86_64
EFI_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Wno-unused-parameter -I. $(EFI_INC) -fpic \
              -ffreestanding -fno-stack-protector -fno-stack-check -fshort-wchar -mno-red-zone \
              -maccumulate-outgoing-args -mgeneral-regs-only -DBUILD_ID='"$(BUILD_ID)"'
EFI_LDFLAGS := -nostdlib -znocombreloc -z defs -shared -Bsymbolic -T /usr/lib/elf_x86_64_efi.lds -L/usr/lib
EFI_SECTIONS := -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym -j .rel -j .rela \
                -j .rel.* -j .rela.* -j .reloc
LOADER_SRCS := boot/loader.c boot/config.c boot/cpu_check.c boot/host_paging.c arch/x86/string_ops.c \
               boot/memmap.c arch/x86/format.c arch/x86/serial.c
LOADER_OBJS := $(LOADER_SRCS:%.c=$(BUILD)/efi/%.o) $(BUILD)/efi/boot/enter.o $(BUILD)/efi/boot/core_blob.o
PAYLOAD_OBJS := $(BUILD)/efi/tests/payload/rootcheck.o $(BUILD)/efi/tests/payload/partcheck.o \
                $(BUILD)/efi/tests/payload/console.o \
                $(BUILD)/efi/tests/payload/probe.o $(BUILD)/efi/api/whv_lib.o $(BUILD)/efi/api/whv_deferred.o $(BUILD)/efi/api/hv_transport.o \
                $(BUILD)/efi/arch/x86/format.o $(BUILD)/efi/arch/x86/string_ops.o

EXITS_OBJS := $(patsubst %.c,$(BUILD)/efi/%.o,$(wildcard tests/payload/exitrun*.c)) $(BUILD)/efi/tests/payload/console.o \
              $(BUILD)/efi/api/whv_lib.o $(BUILD)/efi/api/whv_deferred.o $(BUILD)/efi/api/hv_transport.o \
              $(BUILD)/efi/arch/x86/format.o $(BUILD)/efi/arch/x86/string_ops.o
EXITC_SRCS := $(wildcard tools/exitc*.c)
SCRIPTS ?= tests/exits

ESP := $(BUILD)/esp
DEPS_STAMP := $(BUILD)/.deps-ok

.PHONY: all deps host-test test run image exits bench bench-profile clean
all: $(BUILD)/esp.img

deps: $(DEPS_STAMP)
$(DEPS_STAMP): tools/setup.sh
	@mkdir -p $(BUILD)
	@tools/setup.sh --check >/dev/null 2>&1 || tools/setup.sh
	@touch $@

# ---- core
$(BUILD)/regs_layout.inc: vmx/regs_layout.h
	@mkdir -p $(dir $@)
	sed -n 's/^#define \([A-Z0-9_]*\) \(.*\)$$/%define \1 \2/p' $< > $@

$(BUILD)/core/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC [core] $<"
	@$(CC) $(CORE_CFLAGS) -c $< -o $@

$(BUILD)/core/%.o: %.asm $(BUILD)/regs_layout.inc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -I$(BUILD)/ -o $@ $<

$(BUILD)/core.elf: $(CORE_OBJS) linker.ld
	$(CC) $(CORE_CFLAGS) -nostdlib -static -Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--build-id=none -T linker.ld -o $@ $(CORE_OBJS)

$(BUILD)/core.bin: $(BUILD)/core.elf
	$(OBJCOPY) -O binary $< $@

# ---- EFI applications
$(BUILD)/efi/%.o: %.c $(HEADERS) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@echo "  CC [efi]  $<"
	@$(CC) $(EFI_CFLAGS) -c $< -o $@

$(BUILD)/efi/%.o: %.asm | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -o $@ $<

$(BUILD)/efi/boot/core_blob.o: boot/core_blob.asm $(BUILD)/core.bin
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -DCORE_BIN='"$(BUILD)/core.bin"' -o $@ $<

$(BUILD)/%.so:
	$(LD) $(EFI_LDFLAGS) /usr/lib/crt0-efi-x86_64.o $^ -o $@ -lefi -lgnuefi

$(BUILD)/loader.so: $(LOADER_OBJS)
$(BUILD)/rootcheck.so: $(PAYLOAD_OBJS)
$(BUILD)/exits.so: $(EXITS_OBJS)
BENCH_OBJS := $(BUILD)/efi/tests/payload/bench.o $(BUILD)/efi/tests/payload/console.o \
              $(BUILD)/efi/api/whv_lib.o $(BUILD)/efi/api/whv_deferred.o $(BUILD)/efi/api/hv_transport.o \
              $(BUILD)/efi/arch/x86/format.o $(BUILD)/efi/arch/x86/string_ops.o
$(BUILD)/bench.so: $(BENCH_OBJS)

$(BUILD)/%.efi: $(BUILD)/%.so
	$(OBJCOPY) $(EFI_SECTIONS) --target efi-app-x86_64 --subsystem=10 $< $@

# ---- boot media: the ESP tree, a raw FAT image (emulators) and a GPT disk image (real hardware)
$(ESP)/.stamp: $(BUILD)/loader.efi $(BUILD)/rootcheck.efi tools/hvx.cfg
	rm -rf $(ESP) && mkdir -p $(ESP)/EFI/BOOT $(ESP)/EFI/hvx
	cp $(BUILD)/loader.efi $(ESP)/EFI/BOOT/BOOTX64.EFI
	cp $(BUILD)/rootcheck.efi $(ESP)/EFI/hvx/rootcheck.efi
	cp tools/hvx.cfg $(ESP)/EFI/BOOT/hvx.cfg
	@touch $@

$(BUILD)/esp.img: $(ESP)/.stamp
	tools/mkesp.sh $@ $(ESP)

image: $(ESP)/.stamp
	tools/mkimage.sh $(BUILD)/hvx-usb.img $(ESP)
	@echo "wrote $(BUILD)/hvx-usb.img: copy it to a USB stick (dd if=$(BUILD)/hvx-usb.img of=/dev/sdX bs=1M)"

# ---- tests
$(BUILD)/host-tests: $(PURE_SRCS) $(HOST_TEST_SRCS) $(HEADERS)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $(PURE_SRCS) $(HOST_TEST_SRCS)

host-test: $(BUILD)/host-tests
	$(BUILD)/host-tests

# ---- benchmarks: not part of make test (emulated ticks, two boots)
bench: $(BUILD)/bench.efi $(BUILD)/loader.efi
	tools/run-bench.sh

# The same boots with the Run path's tick profile compiled in (vmx/profile.h), in its own build folder.
bench-profile:
	$(MAKE) BUILD=build-profile CORE_EXTRA_CFLAGS=-DHV_PROFILE build-profile/bench.efi build-profile/loader.efi
	BUILD=build-profile BENCH_PROFILE=1 tools/run-bench.sh

# ---- the exit-script suite: host compiler + in-root runner
$(BUILD)/exitc: $(EXITC_SRCS) tools/exit_pack.h $(HEADERS)
	@mkdir -p $(dir $@)
	$(HOSTCC) -std=gnu11 -O2 -Wall -Wextra -Werror -I. -o $@ $(EXITC_SRCS)

exits: $(BUILD)/exitc $(BUILD)/exits.efi $(BUILD)/loader.efi
	tools/run-exits.sh $(SCRIPTS)

test: $(BUILD)/host-tests $(BUILD)/esp.img $(BUILD)/exitc $(BUILD)/exits.efi
	tools/run-tests.sh

run: $(BUILD)/esp.img
	tools/run.sh

clean:
	rm -rf $(BUILD)

# ---- fragments owned by their test directories (fuzzers and hostile-input suites)
include $(sort $(wildcard tests/*/*.mk))
