# dexec — one local command equals CI: `make ci`.
#
#   make demo       the whole system on this machine: one task from order to verified result
#   make test       every test: forge (unit, fuzz, invariant) and cargo
#   make ci         format checks + clippy + ABI drift check + make test (what .ci/run calls)
#   make bench-gas  gas per operation beside iExec's figures -> target/bench/gas.json
#   make bench-e2e      order -> result latency, bag throughput -> target/bench/e2e.json
#   make bench-market   market publishes/s, query p99 at 100k orders -> target/bench/market.json
#   make bench-runtime  WASM vs native speed, cold/warm start -> target/bench/runtime.json
#   make bench-oracle   price-feed update latency and gas, request fill latency -> target/bench/oracle.json
#   make bench-byzantine  1000 trust-5 tasks, 30% of workers lying: wrong results, slashing -> target/bench/byzantine.json
#   make bench-scale    bag throughput with 1, 2, 4, 8 worker hosts (netns, root) -> target/bench/scale.json
#   make chaos      30 min of faults on the system as processes on 5 simulated hosts (root) -> target/chaos/chaos.json
#   make cli-reference  regenerate docs/cli.md from `dexec --help`
#   make install    the dexec binary into ~/.cargo/bin (PREFIX=<dir> for <dir>/bin)
#   make images     base images of the container apps in podman's store (scripts/images.sh)
#
# Everything installs what it needs first (`make bootstrap`, `make bootstrap-python`: idempotent).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

ROOT := $(CURDIR)
BIN := $(ROOT)/node_modules/.bin
FORGE := $(BIN)/forge
CARGO ?= cargo
export DEXEC_ANVIL ?= $(ROOT)/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil

.PHONY: help bootstrap bootstrap-python contracts abi check-abi check-storage-layout test test-contracts test-rust fmt fmt-check clippy ci demo bench-gas bench-runtime bench-market bench-e2e bench-oracle bench-byzantine bench-scale chaos apps images ops-tools examples install cli-reference clean

help:
	@sed -n '2,18p' Makefile | sed 's/^# \{0,1\}//'

## bootstrap: pinned npm tools (forge, anvil, cast, solc-js, OpenZeppelin), idempotent
bootstrap: node_modules/.stamp

node_modules/.stamp: package.json package-lock.json
	@command -v node >/dev/null || { echo "bootstrap: Node.js is required (https://nodejs.org)"; exit 1; }
	@command -v cargo >/dev/null || { echo "bootstrap: Rust (cargo) is required (https://rustup.rs)"; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@$(ROOT)/scripts/solc --version | tail -1
	@touch $@

## bootstrap-python: pinned Python test tools (schemathesis) in .tools/venv, idempotent
bootstrap-python:
	@scripts/bootstrap-python.sh

## contracts: compile the hub with forge (offline, solc-js behind scripts/solc)
contracts: bootstrap
	cd contracts && $(FORGE) build

## abi: re-export the committed bindings input (crates/contracts/abi/*.json)
abi: contracts
	python3 scripts/export-abi.py

## check-abi: fail when committed ABIs differ from a fresh build
check-abi: abi
	@git diff --exit-code --stat crates/contracts/abi || { echo "check-abi: crates/contracts/abi is stale: run 'make abi' and commit"; exit 1; }

test: test-contracts test-rust

test-contracts: contracts
	cd contracts && $(FORGE) test

# PostgreSQL paths (market, scheduler) run against a throwaway loopback cluster
# (scripts/postgres.sh); the market's suite runs a second time on SQLite, its default (a
# filter on the workspace build: `-p` would re-resolve features and rebuild dependencies).
# nextest does not run doctests: `cargo test --doc` runs them after. The market's OpenAPI test
# drives it with schemathesis (.tools/venv, bootstrap-python): required here, as PostgreSQL is.
test-rust: bootstrap bootstrap-python apps images ops-tools
	@echo "== make test: building the workspace and its tests (the first build takes about 15 minutes on 2 cores; cargo shows each crate), then running them =="
	@pg_url="$$(scripts/postgres.sh start)"; \
	trap 'scripts/postgres.sh stop' EXIT; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		DEXEC_TEST_REQUIRE_POSTGRES=1 DEXEC_TEST_REQUIRE_SCHEMATHESIS=1 DEXEC_TEST_REQUIRE_NAMESPACES=1 DEXEC_TEST_REQUIRE_CONTAINERS=1 DEXEC_TEST_REQUIRE_PROMETHEUS=1 DEXEC_TEST_POSTGRES_URL="$$pg_url" $(CARGO_ENV) $(CARGO) nextest run --workspace --no-fail-fast; \
		DEXEC_TEST_REQUIRE_SCHEMATHESIS=1 $(CARGO_ENV) $(CARGO) nextest run --workspace --no-fail-fast -E 'package(dexec-market)'; \
		$(CARGO_ENV) $(CARGO) test --workspace --doc; \
	else \
		DEXEC_TEST_REQUIRE_POSTGRES=1 DEXEC_TEST_REQUIRE_SCHEMATHESIS=1 DEXEC_TEST_POSTGRES_URL="$$pg_url" $(CARGO_ENV) $(CARGO) test --workspace; \
		DEXEC_TEST_REQUIRE_SCHEMATHESIS=1 $(CARGO_ENV) $(CARGO) test -p dexec-market; \
	fi

fmt: bootstrap
	$(CARGO) fmt --all
	cd contracts && $(FORGE) fmt

fmt-check: bootstrap
	$(CARGO) fmt --all --check
	cd contracts && $(FORGE) fmt --check

clippy: bootstrap
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## check-storage-layout: fail unless Hub and HubPoco (run by DELEGATECALL on the hub's storage) share one layout
check-storage-layout: contracts
	python3 scripts/check-storage-layout.py $(FORGE)

# `make ci` lints while it builds the tests (LINT=1): cargo runs clippy-driver (clippy's rustc,
# lints as errors, exactly as `make clippy`) on the workspace's crates and plain rustc on the
# dependencies, so everything is compiled once. A separate `cargo clippy` type-checks every
# dependency a second time: 15 of the 48 minutes .ci/run took on 2 cores.
CLIPPY_DRIVER = $(shell rustc --print sysroot)/bin/clippy-driver
LINT_ENV = RUSTC_WORKSPACE_WRAPPER=$(CLIPPY_DRIVER) CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
CARGO_ENV = $(if $(LINT),$(LINT_ENV))

## ci: what .ci/run runs: format, ABI drift, storage layout, every test built once with clippy's lints as errors, the examples linted
ci: fmt-check check-abi check-storage-layout
	$(MAKE) test LINT=1
	$(LINT_ENV) $(CARGO) build --workspace --examples

demo: bootstrap apps
	@echo "== make demo: building dexec first (the first build takes about 12 minutes on 2 cores; cargo shows each crate) =="
	$(CARGO) build -p dexec-cli
	@echo "== make demo: the whole system on loopback, one task end to end =="
	$(CARGO) run -q -p dexec-cli -- demo

bench-gas: bootstrap
	$(CARGO) run -q -p dexec-cli -- bench gas --out target/bench/gas.json

## apps: example apps (C -> wasm32-wasi, and native) in apps/build; installs clang/wasi-libc (Debian)
apps:
	scripts/bootstrap-debian.sh
	$(MAKE) -C apps

## images: base images of container apps (podman store), reproducible; --force via IMAGES_FLAGS=--force
images:
	scripts/bootstrap-containers.sh
	scripts/images.sh $(IMAGES_FLAGS)

## ops-tools: Prometheus (Debian's package), which the dashboard test scrapes a running pool with
ops-tools:
	scripts/bootstrap-debian.sh prometheus

## examples: copy the example apps dexec carries inside its binary (crates/cli/apps) from a fresh build
examples: apps
	cp apps/build/hello.wasm apps/build/pi.wasm apps/build/wordcount.wasm apps/build/pricefeed.wasm crates/cli/apps/

bench-runtime: bootstrap apps
	$(CARGO) run -q -p dexec-cli -- bench runtime --out target/bench/runtime.json

## bench-e2e: order -> verified result latency (trust 1 and 3) and bag throughput (release build) -> target/bench/e2e.json
bench-e2e: bootstrap apps
	$(CARGO) run -q --release -p dexec-cli -- bench e2e --out target/bench/e2e.json

## bench-oracle: price-feed update latency (trust 1 and 3), gas per update, request fill latency (release build) -> target/bench/oracle.json
bench-oracle: bootstrap
	$(CARGO) run -q --release -p dexec-cli -- bench oracle --out target/bench/oracle.json

## bench-byzantine: 1000 trust-5 tasks with 3 of 10 workers lying (1 alone, 2 colluding): wrong results accepted, liars slashed, honest earnings, gas per task, money conserved (release build) -> target/bench/byzantine.json
bench-byzantine: bootstrap
	$(CARGO) run -q --release -p dexec-cli -- bench byzantine --out target/bench/byzantine.json

## bench-market: publishes/s and query p99 at 100k orders (release build) -> target/bench/market.json
bench-market: bootstrap
	$(CARGO) run -q --release -p dexec-market --example bench

## openapi: regenerate docs/openapi/market.json from the market's handlers (a test checks it is current)
openapi:
	DEXEC_BLESS=1 $(CARGO) test -q -p dexec-market --lib committed_spec

## cli-reference: regenerate docs/cli.md from the binary's help (a test checks it is current)
cli-reference: bootstrap
	$(CARGO) run -q -p dexec-cli -- reference > docs/cli.md

PREFIX ?= $(HOME)/.cargo
## install: a release build of dexec into $(PREFIX)/bin; it finds anvil in this checkout (keep it)
install: bootstrap
	@echo "== make install: release build of dexec (the first takes about 15 minutes on 2 cores; cargo shows each crate) =="
	$(CARGO) install --locked --path crates/cli --root $(PREFIX)
	@echo "== installed $(PREFIX)/bin/dexec; make sure $(PREFIX)/bin is on your PATH =="

clean:
	rm -rf contracts/out contracts/cache target/bench

## bench-scale: bag throughput of one scheduler with 1, 2, 4 and 8 worker hosts (network
## namespaces, two workers of four slots each), and the scheduler's CPU per task, the
## scheduler on PostgreSQL -> target/bench/scale.json. Needs root. The dev profile (the one the
## tests build; its dependencies are optimized), not a second build.
bench-scale: bootstrap apps
	$(CARGO) build -p dexec-cli
	@scripts/postgres.sh start >/dev/null
	./target/debug/dexec bench scale --scheduler-db "$$(scripts/postgres.sh socket-url)" $(SCALE_FLAGS)

## chaos: the system as processes on simulated hosts (network namespaces: chain, market and store;
## the scheduler on PostgreSQL; 8 workers on 4 hosts), CHAOS_SECS of random faults (SIGKILLs,
## a stopped RPC node, hosts cut off), then checked on chain -> target/chaos/chaos.json. Needs
## root. CHAOS_FLAGS adds flags (`--seed N` repeats a run; see `dexec bench chaos --help`).
## CI runs a 60 s seeded version (crates/cli/tests/it/chaos.rs).
CHAOS_SECS ?= 1800
chaos: bootstrap apps
	$(CARGO) build -p dexec-cli
	@scripts/postgres.sh start >/dev/null
	./target/debug/dexec bench chaos --duration-secs $(CHAOS_SECS) --scheduler-db "$$(scripts/postgres.sh socket-url)" $(CHAOS_FLAGS)
