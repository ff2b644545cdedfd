# file-processing — front door. `make demo` and `make test` do all the set-up.
MAKEFLAGS  += --no-print-directory
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CC         ?= cc
PKG        := packages/file_processing
DEMO_KEY   := from_client/nm_albuquerque/Officer_Detail.csv
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZERS      ?=

.PHONY: all deps build demo test test-asan test-clang test-image bench fuzz clean help

all: build

help:
	@echo "make demo       install deps, build, run the job on the bundled sample data"
	@echo "make test       install deps, build, run every test (unit + integration)"
	@echo "make test-asan  the whole suite under AddressSanitizer + UBSan"
	@echo "make test-clang build and test with clang"
	@echo "make bench      throughput and peak memory on a generated ~1 GiB file"
	@echo "make fuzz       each libFuzzer harness FUZZ_SECONDS (60) s; new coverage merged"
	@echo "                into the corpora; fails on a crash (FUZZERS=\"fuzz_csv ...\" picks some)"
	@echo "make clean      remove build directories"

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# The demo data carries realistic defects, so the job exits 1 (data invalid): that is a
# successful demo. Only 2/3 (bad input, transient failure) fail the target.
demo: build
	@rc=0; LOCAL_S3_ROOT=./$(PKG)/data DATABASE_URL=sqlite:///file_processing.db \
	  ./$(BUILD)/file-processing run s3_data_quality_job \
	  --event-json '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"demo-bucket"},"object":{"key":"$(DEMO_KEY)"}}}]}' \
	  --report $(BUILD)/demo-report.json || rc=$$?; \
	  echo "demo: exit $$rc; JSON report in $(BUILD)/demo-report.json; run recorded in file_processing.db"; \
	  [ $$rc -le 1 ]

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

test-asan: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DFP_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j$(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

test-clang: deps
	@CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-clang -j$(JOBS)
	@cd build-clang && ctest --output-on-failure -j$(JOBS)

# Opt-in: the first run builds a Debian base with mmdebstrap (minutes); needs podman, runc,
# mmdebstrap and uidmap (the script says what to install when they are missing).
test-image: build
	@bash $(PKG)/tests/image/test_image.sh

# clang + libFuzzer + ASan/UBSan in its own build directory; the corpora it grows are
# committed (packages/file_processing/fuzz/README.md).
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFP_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers
	@bash $(PKG)/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZERS)

bench: build
	@bash $(PKG)/bench/run_bench.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-clang $(FUZZ_BUILD)
