# MDLC: model development life cycle on AWS Step Functions + SageMaker, in Rust.
# Every target installs what it needs into ignored folders (.tools/, node_modules/).
SHELL := /bin/bash
CARGO ?= cargo
VENV := .tools/venv
FUNCTIONS := initialize train create-model register-model find-model monitor-performance is-retraining-needed track-experiment
export MDLC_REPO_ROOT := $(CURDIR)

.PHONY: demo test tools nextest lint conformance build bench fuzz fault mutants deploy preprocess-image clean

## make demo: the whole life cycle on this machine (no AWS account, no Docker)
demo:
	$(CARGO) build --release -p mdlc-cli -p mdlc-trainer
	./target/release/mdlc demo

## make test: every test suite (unit, wire tests against moto and MLflow, conformance) and the linters.
## Tests that need a server or tool are #[ignore]d (a plain `cargo nextest run` lists them as
## skipped); `--run-ignored all` runs them here, where a missing server fails them.
test: tools
	MDLC_REQUIRE_SERVERS=1 scripts/with-servers.sh $(CARGO) nextest run --workspace --profile ci --run-ignored all
	$(MAKE) --no-print-directory lint

tools:
	scripts/tools.sh test

nextest:
	MDLC_REQUIRE_SERVERS=1 scripts/with-servers.sh $(CARGO) nextest run --workspace --profile ci --run-ignored all

## make conformance: the ASL engine against the executions recorded on AWS (../shared/conformance)
## (the test is #[ignore]d in a plain run: the corpus lives outside the repository)
conformance:
	$(CARGO) nextest run -p mdlc-asl --profile ci --test aws_conformance --test aws_histories --run-ignored all

## make lint: rustfmt, clippy, cfn-lint, checkov, asl-validator
lint: tools
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	scripts/lint-infra.sh

## make build: one arm64 bootstrap zip per Lambda function (cargo-lambda + zig from PyPI)
build:
	scripts/build-lambdas.sh $(FUNCTIONS)

## make bench: measures and writes BENCHMARKS.md
bench: tools
	scripts/bench.sh

## make fuzz [FUZZ_SECONDS=60]: every fuzz target of crates/fuzz for FUZZ_SECONDS each (default 60,
## nine targets), figures into BENCHMARKS.md; crash inputs go to crates/fuzz/regressions/ (replayed
## by make test). Fails when a crash was found.
fuzz:
	MDLC_BENCH_ONLY=fuzz scripts/bench.sh
	scripts/bench-fuzz.sh --check

## make fault [FAULT_DEMO_KILLS=20] [FAULT_SERVE_KILLS=20] [FAULT_SEED=19]: kill -9 at random moments of
## the demo's life cycle and of mdlc serve under load, restart, check that no execution is lost, no
## child is orphaned and no file is corrupt; figures into BENCHMARKS.md. Fails when an invariant broke.
## (make test runs the same suite with 3 + 3 kills.)
fault:
	MDLC_BENCH_ONLY=fault scripts/bench.sh
	scripts/bench-fault.sh --check

## make mutants [CRATES="core asl"] [SHARD=k/n] [BASE=<git rev>] [FILES=<glob>] [JOBS=1] [ITERATE=1] [RE=<regex>] [TEST_ARGS=--lib]: mutation
## testing (cargo-mutants) of core, stats, asl, jsonata, trainer and the emulator's tuning; output in
## target/mutants/; figures of record in BENCHMARKS.md ("Mutation testing"). See scripts/mutants.sh.
mutants:
	CRATES="$(CRATES)" SHARD="$(SHARD)" BASE="$(BASE)" FILES="$(FILES)" JOBS="$(JOBS)" ITERATE="$(ITERATE)" RE='$(value RE)' TEST_ARGS="$(TEST_ARGS)" scripts/mutants.sh

## make deploy: sam deploy (guided the first time)
deploy: build
	scripts/deploy.sh

## make preprocess-image [PUSH=1]: the x86_64 SageMaker Processing image of `mdlc-trainer preprocess`;
## PUSH=1 pushes <account>.dkr.ecr.<region>.amazonaws.com/mdlc-preprocess:<release> (after `make deploy`)
preprocess-image:
	PUSH="$(PUSH)" scripts/build-preprocess-image.sh

clean:
	rm -rf target .tools/run .mdlc dist
