# The two commands of the README. Both set up the machine first (Debian
# packages, idempotent), then configure and build with CMake.
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_ARGS ?=

.PHONY: setup configure build quickstart test install clean base-models bench fuzz test-sanitize

setup:
	@bash scripts/setup.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_ARGS)

configure: setup $(BUILD)/CMakeCache.txt

build: configure
	cmake --build $(BUILD) -j $(JOBS)

quickstart: build
	./$(BUILD)/mstar run experiments/quickstart.yaml -j 2

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# Retrains the base checkpoint shipped in models/ (experiments/base_models.yaml,
# ~20 minutes on one core) and replaces models/$(BASE_MODEL) with it; its
# README records the command, commit and seed.
BASE_MODEL = tiny_vlm-qwen-S-base
base-models: build
	./$(BUILD)/mstar run experiments/base_models.yaml
	bash scripts/ship_base_model.sh ./$(BUILD)/mstar base-models base models/$(BASE_MODEL)

bench: build
	bash bench/run.sh

# The fuzz harnesses (fuzz/README.md) under libFuzzer with clang, ASan and
# UBSan, FUZZ_SECONDS each from the committed corpora; `make test` only
# replays those corpora.
FUZZ_SECONDS ?= 60
fuzz: setup
	FUZZ_SECONDS=$(FUZZ_SECONDS) JOBS=$(JOBS) bash fuzz/run.sh

# Every target without LibTorch built with ASan + UBSan in its own build dir,
# and its tests run there (docs/reliability.md). LibTorch is not sanitized,
# so MSTAR_WITH_TORCH=OFF. Leaks are reported too.
SANITIZE_BUILD ?= build-sanitize
SANITIZE_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# handle_segv=0: the tests crash plugins on purpose (SIGSEGV) and check that
# the host records the signal; ASan's handler would turn it into exit 1.
test-sanitize: setup
	test -f $(SANITIZE_BUILD)/CMakeCache.txt || cmake -S . -B $(SANITIZE_BUILD) -G Ninja \
	  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMSTAR_WITH_TORCH=OFF -DMSTAR_BUILD_BENCH=OFF \
	  "-DCMAKE_C_FLAGS=$(SANITIZE_FLAGS)" "-DCMAKE_CXX_FLAGS=$(SANITIZE_FLAGS)" \
	  "-DCMAKE_EXE_LINKER_FLAGS=$(SANITIZE_FLAGS)" "-DCMAKE_SHARED_LINKER_FLAGS=$(SANITIZE_FLAGS)" \
	  "-DCMAKE_MODULE_LINKER_FLAGS=$(SANITIZE_FLAGS)" $(CMAKE_ARGS)
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	cd $(SANITIZE_BUILD) && ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:handle_segv=0 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j $(JOBS) --timeout 1800

clean:
	rm -rf $(BUILD)
