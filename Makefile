# agentgate: the two commands are `make run` and `make test`.
#   make run     installs missing Debian packages, builds Release (with PGO), serves on :8000
#   make test    installs what the tests need, builds (Debug), runs every test
#   make bench   builds Release and runs the micro-benchmarks and HTTP load benchmarks
# Other targets: build, test-asan, test-tsan, fuzz (FUZZ_SECONDS per target),
#   soak (SOAK_MINUTES of mixed traffic, RSS and fds sampled), clean.

ARGS ?=
CTEST_JOBS ?= 2

.PHONY: deps build run test test-asan test-tsan fuzz soak bench e2e-deps clean

deps:
	@scripts/install-deps

# Release is built with profile-guided optimization (scripts/build-release);
# AGENTGATE_PGO=0 builds it without.
build: deps
	@scripts/build-release agentgate_cli agentgate_mock

# The admin API needs a key: unless AGENTGATE_ADMIN_KEY is set, `make run`
# makes one once in data/admin.key (mode 600) and uses it.
run: build
	@mkdir -p data
	@test -s data/admin.key || (umask 077 && openssl rand -hex 24 > data/admin.key)
	@echo "agentgate: admin key in data/admin.key (or set AGENTGATE_ADMIN_KEY)"
	AGENTGATE_ADMIN_KEY="$${AGENTGATE_ADMIN_KEY:-$$(cat data/admin.key)}" ./build/release/agentgate serve $(ARGS)

e2e-deps:
	@scripts/install-e2e-deps

test: deps e2e-deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug
	cd build/debug && ctest --output-on-failure -j$(CTEST_JOBS) --timeout 300

test-asan: deps e2e-deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan
	cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j$(CTEST_JOBS) --timeout 600

# The concurrency tests (multi-threaded server, caches, single-flight, pools)
# under ThreadSanitizer.
TSAN_FILTER ?= HttpServerTest.*:*Concurren*:Cached*:UpstreamClientTest.*:RedisClient*:ExperimentWrites.*
test-tsan: deps
	@cmake --preset tsan >/dev/null
	@cmake --build --preset tsan --target agentgate_unit_tests
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 build/tsan/tests/agentgate_unit_tests --gtest_filter='$(TSAN_FILTER)'

# libFuzzer targets (clang, ASan+UBSan), each for FUZZ_SECONDS (default 60).
fuzz: deps
	scripts/fuzz

# Soak: SOAK_MINUTES (default 10) of mixed traffic; writes bench/results/soak.md.
soak: deps
	scripts/soak

bench: deps
	@scripts/install-deps --bench
	@scripts/build-release agentgate_cli agentgate_mock agentgate_bench agentgate_fleet_bench
	scripts/bench

clean:
	rm -rf build
