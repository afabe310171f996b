# Entry points: `make run` and `make test` work on a fresh Debian machine as
# root (they install what is missing first). `make bench` runs bench/run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPX_WERROR=ON

.PHONY: all deps build run demo test test-plain test-asan test-tsan bench clean

all: build

deps:
	./scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -G Ninja $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# A node on ./data with the demo app deployed (see scripts/run.sh).
run: build
	BUILD=$(BUILD) ./scripts/run.sh

# The in-process tour: supervision, a durable workflow across a restart.
demo: build
	./$(BUILD)/plexspaces demo

# Every test three ways: a normal build, ASan+UBSan, and the runtime tests
# under ThreadSanitizer.
test: deps
	./scripts/test.sh

test-plain: deps
	./scripts/test.sh plain

test-asan: deps
	./scripts/test.sh asan

test-tsan: deps
	./scripts/test.sh tsan

bench:
	PX_BENCH_DEPS=1 ./scripts/install-deps.sh
	./bench/run

clean:
	rm -rf build build-asan build-tsan build-bench
