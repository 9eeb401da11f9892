# SPDX-License-Identifier: GPL-2.0-or-later
# Convenience wrapper around meson/ninja.
#   make            build build/ (configured on first use)
#   make check      unit, functional and interop suites, in the plain build
#                   and again under ASan+UBSan; the threaded tests (unit
#                   and the --iothreads/many-client interop tests, suite
#                   'thread') under TSan; the fuzzers. Every peer program
#                   is installed first (install-deps.sh), so any skip, whole
#                   or in part, fails (QEMU_TEST_REQUIRE_ALL=1).
#   make check-quick  the plain build's tests only; a missing peer is
#                   reported as a skip
#   make check-fuzz   the libFuzzer targets (clang, ASan+UBSan), each for
#                   the time tests/fuzz/meson.build gives it; `make check`
#                   runs them too, as the 'fuzz' suite
#   make bench      benchmarks (not tests)
#   make bench-nbd  fio against our qemu-nbd and peer NBD servers
#                   (BENCH_RUNTIME=seconds per workload, default 10)
#   make bench-nbd-client  our qemu-img beside Debian's as NBD clients
#   make demo       qemu-nbd serving an image to qemu-io, nbdinfo, nbdcopy

BUILD ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS = tests/fuzz/fuzz-nbd tests/fuzz/fuzz-nbd-session \
	tests/fuzz/fuzz-pr-helper \
	tests/fuzz/fuzz-nbd-client tests/fuzz/fuzz-nbd-reply \
	tests/fuzz/fuzz-nbd-driver
MESON_SETUP = meson setup --wipe

.PHONY: all deps check check-quick check-asan check-tsan check-fuzz bench \
	bench-nbd bench-nbd-client demo clean

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

$(FUZZ_BUILD)/build.ninja:
	@$(MAKE) --no-print-directory deps
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzzing=true \
	    -Db_sanitize=address,undefined -Db_lundef=false

build-all: $(BUILD)/build.ninja $(ASAN_BUILD)/build.ninja \
	    $(TSAN_BUILD)/build.ninja $(FUZZ_BUILD)/build.ninja
	ninja -C $(BUILD)
	ninja -C $(ASAN_BUILD)
	ninja -C $(TSAN_BUILD)
	ninja -C $(FUZZ_BUILD) $(FUZZ_TARGETS)

check: deps build-all
	@QEMU_TEST_REQUIRE_ALL=1 scripts/run-tests.py \
	    $(BUILD):unit,functional,interop \
	    $(ASAN_BUILD):unit,functional,interop $(TSAN_BUILD):thread \
	    $(FUZZ_BUILD):fuzz

check-quick: all
	@scripts/run-tests.py $(BUILD):unit,functional,interop

check-asan: $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	@scripts/run-tests.py $(ASAN_BUILD):unit,functional,interop

check-tsan: $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)
	@scripts/run-tests.py $(TSAN_BUILD):thread

# Each fuzzer runs on a scratch copy of its seed corpus for the time
# tests/fuzz/meson.build gives it (run-fuzz.sh).
check-fuzz: $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(FUZZ_TARGETS)
	@scripts/run-tests.py $(FUZZ_BUILD):fuzz

bench: all
	$(BUILD)/tests/bench/bench-coroutine
	$(BUILD)/tests/bench/bench-io-channel

bench-nbd: all
	tests/bench/bench-nbd.sh $(BUILD)/qemu-nbd

bench-nbd-client: all
	tests/bench/bench-nbd-client.sh $(BUILD)

demo: all
	scripts/demo-nbd.sh $(BUILD)/qemu-nbd

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
