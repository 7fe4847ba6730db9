# Build and test entry points. See README.md.
#   make            build the EFI image (loader with the core embedded) and the test payload
#   make run        boot it (QEMU+KVM on an Intel VT-x host, else Bochs) and stream COM1
#   make test       every test tier; ends with one line "N passed, N failed"
#   make image      a GPT disk image for a USB stick / real hardware
#   make host-test  only the host unit tier

BUILD   ?= build
HOSTCC  ?= gcc

# Pure C that runs both in the core/loader and on the host under the unit tests.
PURE_SRCS := $(wildcard arch/x86/mtrr.c vmx/ept.c vmx/vmx_caps.c vmx/segment.c vmx/vmcs_width.c \
                        boot/config.c boot/memmap.c vmx/hypercall_validate.c vmx/vmx_errors.c)
HOST_TEST_SRCS := $(wildcard tests/host/*.c)
HOST_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -I. -DHOST_TEST \
               -fsanitize=address,undefined -fno-sanitize-recover=undefined

.PHONY: all host-test clean
all:

$(BUILD)/host-tests: $(PURE_SRCS) $(HOST_TEST_SRCS) $(wildcard tests/host/*.h) $(wildcard */*.h */*/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) -o $@ $(PURE_SRCS) $(HOST_TEST_SRCS)

host-test: $(BUILD)/host-tests
	$(BUILD)/host-tests

clean:
	rm -rf $(BUILD)
