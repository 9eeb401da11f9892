# Convenience wrapper around meson/ninja.
#   make            build build/ (configured on first use)
#   make check      unit, functional and interop suites, plus the unit
#                   suite under ASan+UBSan and the threaded tests under TSan
#   make check-quick  the plain build's tests only
#   make bench      benchmarks (not tests)
#   make demo       qemu-nbd serving an image to qemu-io, nbdinfo, nbdcopy

BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
MESON_SETUP = meson setup --wipe

.PHONY: all deps check check-quick check-asan check-tsan bench demo clean

all: $(BUILD)/build.ninja
	ninja -C $(BUILD)

deps:
	@scripts/install-deps.sh --check 2>/dev/null || scripts/install-deps.sh

$(BUILD)/build.ninja:
	@$(MAKE) --no-print-directory deps
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	@$(MAKE) --no-print-directory deps
	CC=clang meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dbuildtype=debug -Doptimization=1

$(TSAN_BUILD)/build.ninja:
	@$(MAKE) --no-print-directory deps
	CC=clang meson setup $(TSAN_BUILD) -Db_sanitize=thread \
	    -Db_lundef=false -Dbuildtype=debug -Doptimization=1

build-all: $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja $(TSAN_BUILD)/build.ninja
	ninja -C $(BUILD)
	ninja -C $(ASAN_BUILD)
	ninja -C $(TSAN_BUILD)

check: deps build-all
	@scripts/run-tests.py $(BUILD):unit,functional,interop \
	    $(ASAN_BUILD):unit $(TSAN_BUILD):thread

check-quick: all
	@scripts/run-tests.py $(BUILD):unit,functional,interop

check-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	@scripts/run-tests.py $(ASAN_BUILD):unit

check-tsan: $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)
	@scripts/run-tests.py $(TSAN_BUILD):thread

bench: all
	$(BUILD)/tests/bench/bench-coroutine
	$(BUILD)/tests/bench/bench-io-channel

demo: all
	scripts/demo-nbd.sh $(BUILD)/qemu-nbd

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD)
