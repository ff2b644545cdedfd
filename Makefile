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

.PHONY: all deps build demo demo-run test test-asan test-clang test-image bench chaos fuzz clean help

all: build

help:
	@echo "make demo       install deps, build, run the job on two deliveries of the sample data"
	@echo "make test       install deps, build, run every test (unit + integration, valgrind,"
	@echo "                the ASan+UBSan build of the suite, the container image)"
	@echo "make test-asan  the whole suite under AddressSanitizer + UBSan"
	@echo "make test-clang build and test with clang"
	@echo "make bench      throughput and peak memory on a generated ~1 GiB file"
	@echo "make chaos      SIGKILL the SNS listener while 1,000 notifications arrive (PostgreSQL)"
	@echo "make fuzz       each libFuzzer harness FUZZ_SECONDS (60) s; new coverage merged"
	@echo "                into the corpora; fails on a crash (FUZZERS=\"fuzz_csv ...\" picks some)"
	@echo "make clean      remove build directories"

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j$(JOBS)

# Two monthly deliveries of the same dataset, in order. The first carries realistic
# defects, so the job exits 1 (data invalid): that is a successful demo. Only 2/3 (bad
# input, transient failure) fail the target. A failed run is never picked as the
# reference on its own, so the demo pins it (`runs pin`): the second delivery then reports
# what drifted since the first, next to its own contract findings.
DEMO_KEY2  := from_client/nm_albuquerque/Officer_Detail_2026-11.csv
DEMO_FP    := LOCAL_S3_ROOT=./$(PKG)/data DATABASE_URL=sqlite:///file_processing.db ./$(BUILD)/file-processing
demo_event  = '{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put","eventTime":"$(2)","s3":{"bucket":{"name":"demo-bucket"},"object":{"key":"$(1)"}}}]}'
# The id of the newest run listed by `runs list ARGS --limit 1 --json`.
demo_run_id = $(DEMO_FP) runs list $(1) --limit 1 --json | sed -n 's/^ *"id": \([0-9]*\),*$$/\1/p' | head -n 1

demo: build
	@$(MAKE) demo-run

# The demo on an existing build (no dependency installation).
demo-run:
	@rc=0; $(DEMO_FP) run s3_data_quality_job \
	  --event-json $(call demo_event,$(DEMO_KEY),2026-10-01T06:00:00.000Z) \
	  --report $(BUILD)/demo-report.json --report-html $(BUILD)/demo-report.html || rc=$$?; \
	  echo "demo: delivery 1 ($(DEMO_KEY)) exit $$rc; reports in $(BUILD)/demo-report.json and $(BUILD)/demo-report.html"; \
	  [ $$rc -le 1 ] || exit $$rc; \
	  id=$$($(call demo_run_id,--key $(DEMO_KEY))); \
	  $(DEMO_FP) runs pin $$id || exit $$?; \
	  rc=0; $(DEMO_FP) run s3_data_quality_job \
	  --event-json $(call demo_event,$(DEMO_KEY2),2026-11-01T06:00:00.000Z) \
	  --report $(BUILD)/demo-report-2026-11.json --report-html $(BUILD)/demo-report-2026-11.html || rc=$$?; \
	  echo "demo: delivery 2 ($(DEMO_KEY2)) exit $$rc; reports in $(BUILD)/demo-report-2026-11.json and $(BUILD)/demo-report-2026-11.html"; \
	  [ $$rc -le 1 ] || exit $$rc; \
	  echo; $(DEMO_FP) runs list --dataset officer_detail --limit 5; \
	  echo; $(DEMO_FP) runs show $$($(call demo_run_id,--key $(DEMO_KEY2))); \
	  echo; echo "demo: runs recorded in file_processing.db ('file-processing runs --help')"; \
	  echo "demo: HTML report of the second delivery (open it in a browser): $(CURDIR)/$(BUILD)/demo-report-2026-11.html"

test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# The same suite `make test` runs as its asan/suite test, on its own.
test-asan: deps
	@bash $(PKG)/tests/support/sanitizer_suite.sh $(CURDIR) $(CURDIR)/$(ASAN_BUILD)

test-clang: deps
	@CC=clang cmake -S . -B build-clang -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-clang -j$(JOBS)
	@cd build-clang && ctest --output-on-failure -j$(JOBS)

# The container smoke test alone (`make test` runs it too, as image/test_image). The first
# run builds a Debian base with mmdebstrap (minutes); install-deps installs podman & co.
test-image: build
	@bash $(PKG)/tests/image/test_image.sh

# clang + libFuzzer + ASan/UBSan in its own build directory; the corpora it grows are
# committed (packages/file_processing/fuzz/README.md).
fuzz: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFP_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzzers
	@bash $(PKG)/fuzz/run_fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZERS)

bench: build
	@bash scripts/install-deps.sh --bench
	@bash $(PKG)/bench/run_bench.sh $(BUILD)

# Full-size chaos test on a throwaway PostgreSQL: 1,000 signed SNS notifications for 200
# object versions from 4 clients while the listener (2 workers) is SIGKILLed 10 times.
# CHAOS_ARGS="--seed N" reruns a failing seed; see tests/chaos/chaos.py --help.
CHAOS_ARGS ?=
chaos: build
	@FP_BIN=$(CURDIR)/$(BUILD)/file-processing bash $(PKG)/tests/support/pg_harness.sh run \
	  /usr/bin/python3 $(PKG)/tests/chaos/chaos.py $(CHAOS_ARGS)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-clang $(FUZZ_BUILD)
