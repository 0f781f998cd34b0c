# The two commands of the README. Both set up the machine first (Debian
# packages, idempotent), then configure and build with CMake.
BUILD ?= build
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
CMAKE_ARGS ?=

.PHONY: setup configure build quickstart test install clean base-models bench

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
# ~12 minutes on 2 cores) and replaces models/$(BASE_MODEL) with it; its
# README records the command, commit and seed.
BASE_MODEL = tiny_vlm-qwen-S-literal
base-models: build
	./$(BUILD)/mstar run experiments/base_models.yaml
	bash scripts/ship_base_model.sh ./$(BUILD)/mstar base-models base models/$(BASE_MODEL)

bench: build
	bash bench/run.sh

clean:
	rm -rf $(BUILD)
