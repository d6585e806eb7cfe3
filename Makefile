# radfed - the two commands of a fresh machine:
#   make demo   install what is missing, build, run the main job
#   make test   install what is missing, build, run the whole suite (ctest)
# Other targets: build, asan-test (the suite under ASan+UBSan), fuzz-smoke
# (each libFuzzer target for a bounded time), format, clean.

BUILD     ?= build
ASAN_BUILD ?= build-asan
JOBS      ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
DEMO_DIR  ?= radfed-demo

.PHONY: all deps deps-build build demo test asan-test fuzz-smoke format clean

all: build

deps-build:
	@scripts/install-deps build

deps:
	@scripts/install-deps test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

build: deps-build $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)

demo: build
	$(BUILD)/radfed demo --dir $(DEMO_DIR)

test: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j$(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j$(JOBS)

asan-test: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRADFED_SANITIZE=ON \
		$(CMAKE_ARGS)
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j$(JOBS)

# Each libFuzzer target for FUZZ_SECONDS on its seed corpus (clang build).
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
fuzz-smoke: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)
	cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_dicom_read fuzz_report \
		fuzz_wire
	mkdir -p $(FUZZ_BUILD)/corpus-dicom $(FUZZ_BUILD)/corpus-report \
		$(FUZZ_BUILD)/corpus-wire
	$(FUZZ_BUILD)/tests/fuzz/fuzz_dicom_read -max_len=65536 -timeout=10 \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(FUZZ_BUILD)/corpus-dicom tests/fuzz/corpus/dicom
	$(FUZZ_BUILD)/tests/fuzz/fuzz_report -max_len=4096 -timeout=10 \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(FUZZ_BUILD)/corpus-report
	$(FUZZ_BUILD)/tests/fuzz/fuzz_wire -max_len=65536 -timeout=10 \
		-max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		$(FUZZ_BUILD)/corpus-wire tests/fuzz/corpus/wire

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
