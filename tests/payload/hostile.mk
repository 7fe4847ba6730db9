# hostile.efi: hostile inputs from the root partition (docs/hostile-inputs.md).
#   make hostile          one boot with the full churn (HOSTILE_CHURN, default 10000 cycles)
#   the `make test` tier  tools/test-hostile.sh: the same boot with 1000 churn cycles
HOSTILE_CHURN ?= 10000
HOSTILE_OBJS := $(patsubst %.c,$(BUILD)/efi/%.o,$(wildcard tests/payload/hostile*.c)) \
                $(BUILD)/efi/tests/payload/hostile_guest.o $(BUILD)/efi/tests/payload/hostile_ring3.o \
                $(BUILD)/efi/tests/payload/console.o $(BUILD)/efi/api/whv_lib.o $(BUILD)/efi/api/whv_deferred.o $(BUILD)/efi/api/hv_transport.o \
                $(BUILD)/efi/arch/x86/format.o $(BUILD)/efi/arch/x86/string_ops.o
$(BUILD)/hostile.so: $(HOSTILE_OBJS)

# make test runs the hostile tier: it needs the payload (the loader comes with $(BUILD)/esp.img).
test: $(BUILD)/hostile.efi

.PHONY: hostile
hostile: $(BUILD)/hostile.efi $(BUILD)/loader.efi
	BUILD=$(BUILD) HOSTILE_CHURN=$(HOSTILE_CHURN) tools/run-hostile.sh
