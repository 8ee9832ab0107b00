#!/usr/bin/env bash
# make mutants: mutation testing (cargo-mutants) of the crates that hold the decisions. Each mutant
# is built and tested against its own crate's tests; one that no test notices is "missed".
#
# Variables (all optional):
#   CRATES="core asl"  which of: core stats asl jsonata trainer emulator-tuning (default: all six)
#   SHARD=k/n          only slice k of n (k from 0 to n-1: cargo mutants counts from 0; a whole crate takes hours
#                      on 2 cores)
#   BASE=<git rev>     only mutants in code changed since BASE (cargo mutants --in-diff)
#   FILES=<globs>      only these source files (space-separated globs), e.g.
#                      FILES=crates/core/src/policy.rs or FILES="crates/asl/src/path.rs crates/asl/src/choice.rs"
#   LABEL=<name>       the output directory's name (default: the crate, the file, the shard)
#   RE=<regex>         only the mutants whose name matches (cargo mutants --re), e.g. a run's
#                      survivors by name after their tests were added: 'in split_at_lines|in mounted'
#   ITERATE=1          only the mutants not caught by the previous run into the same output
#                      (cargo mutants --iterate): after adding tests for the missed ones
#   JOBS=1             parallel build/test jobs (each one a full build directory)
#   TIMEOUT=120        seconds a mutant's tests may take before it counts as a timeout
#   TEST_ARGS="--lib"  the test selection, in place of the crate's own (below); e.g. only the unit
#                      tests for files that nothing else reaches: a mutant they miss counts as missed
#                      (for the trainer, "--lib --run-ignored all" keeps its root-only tmpfs tests)
#
# Output: target/mutants/<crate>[-<file>][-shard-k-of-n]/mutants.out (caught.txt, missed.txt, timeout.txt,
# unviable.txt, outcomes.json). A summary line per crate (caught share, time taken, missed
# mutants) is printed at the end; the figures of record are in BENCHMARKS.md, "Mutation testing".
set -uo pipefail
cd "$(dirname "$0")/.."

CRATES=${CRATES:-core stats asl jsonata trainer emulator-tuning}
JOBS=${JOBS:-1}
TIMEOUT=${TIMEOUT:-120}
# cargo-mutants builds in a copy of the tree: the tests that read ../shared (the conformance
# corpora) find it through MDLC_REPO_ROOT. No debug info: linking each mutant's test binaries is
# most of its time.
export MDLC_REPO_ROOT=${MDLC_REPO_ROOT:-$PWD}
export CARGO_PROFILE_DEV_DEBUG=${CARGO_PROFILE_DEV_DEBUG:-0}

if ! command -v cargo-mutants > /dev/null; then
  cargo install cargo-mutants --locked || exit 1
fi

# The cargo-mutants arguments that select one crate, into the array `args`, and the arguments
# its tests run with, into `test_args`: asl's ignored tests need only the conformance corpus, so
# they run too (a mutant the AWS-recorded executions notice is caught). jsonata's ignored test is
# the differential corpus against the reference implementation (node and the repository's
# node_modules/jsonata, found through MDLC_REPO_ROOT from the copied tree; it fails without them),
# so it is required here rather than left out: without it most operator mutants would be missed.
crate_args() { # crate
  test_args=()
  case $1 in
    core) args=(-p mdlc-core) ;;
    # the metric math and the drift bins, moved out of core: against core's tests too, which
    # check the retrain decisions made on them
    stats) args=(-p mdlc-stats --test-package mdlc-stats --test-package mdlc-core) ;;
    asl) args=(-p mdlc-asl); test_args=(--run-ignored all) ;;
    jsonata)
      if ! command -v node > /dev/null || [ ! -f "$MDLC_REPO_ROOT/node_modules/jsonata/package.json" ]; then
        echo "jsonata: needs node and $MDLC_REPO_ROOT/node_modules/jsonata for its differential test" \
          "(scripts/tools.sh test, or npm install at the repository root)" >&2
        return 1
      fi
      args=(-p mdlc-jsonata); test_args=(--run-ignored all) ;;
    # the trainer's two ignored tests mount a tmpfs (root only): without them the tmpfs helper and
    # the full-disk path would count as missed wherever mutation runs as root (CI does). Without
    # root (or the right to mount) they fail the unmutated baseline, as in `make test`: then pass
    # TEST_ARGS without --run-ignored
    trainer) args=(-p mdlc-trainer); test_args=(--run-ignored all) ;;
    # The emulator's tuning code against the tests that run tuning (its unit tests and the tuning
    # jobs' suites), not the transform, storage and Pipe suites, which never reach it and would
    # double each mutant's build.
    emulator-tuning)
      # (FILES, when given, names files inside tuning/ in place of the whole folder)
      args=(-p mdlc-emulator)
      [ -z "${FILES:-}" ] && args+=(-f 'crates/emulator/src/tuning/**')
      test_args=(--lib --test jobs --test builtin_hyperparameters --test vpc --test history) ;;
    *) echo "unknown crate '$1' (core stats asl jsonata trainer emulator-tuning)" >&2; return 1 ;;
  esac
}

# Lines of a cargo-mutants list file (0 when absent).
count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }

# One line: caught (timeouts count as caught: the mutant stopped the tests) of viable mutants.
summary() { # crate out seconds
  local o=$2/mutants.out caught missed timeout unviable viable
  caught=$(count "$o/caught.txt"); missed=$(count "$o/missed.txt")
  timeout=$(count "$o/timeout.txt"); unviable=$(count "$o/unviable.txt")
  viable=$((caught + missed + timeout))
  if [ "$viable" -eq 0 ]; then
    echo "$1: no viable mutant ($unviable unviable) in $3 s"
  else
    awk -v c="$1" -v k="$caught" -v t="$timeout" -v v="$viable" -v u="$unviable" -v s="$3" \
      'BEGIN { printf "%s: %d/%d caught (%.1f %%; %d by timeout), %d unviable, %d s\n", c, k + t, v, 100 * (k + t) / v, t, u, s }'
  fi
  [ -s "$o/missed.txt" ] && sed 's/^/  missed: /' "$o/missed.txt"
  return 0
}

status=0
summaries=()
for crate in $CRATES; do
  crate_args "$crate" || exit 2
  # FILES=crates/asl/src/exec.rs -> asl-exec; a glob such as crates/asl/src/model/*.rs -> asl-model
  files_label=${FILES:+$(echo "${FILES%.rs}" | sed -E 's#^crates/[^/]+/src/##; s#/?\*.*$##; s#[^A-Za-z0-9_-]+#-#g')}
  label=${LABEL:-$crate${files_label:+-$files_label}${SHARD:+-shard-${SHARD/\//-of-}}}
  out=target/mutants/$label
  mkdir -p "$out"
  cmd=(cargo mutants "${args[@]}" --jobs "$JOBS" --test-tool nextest --timeout "$TIMEOUT"
       --build-timeout 900 --no-shuffle -o "$out")
  [ -n "${SHARD:-}" ] && cmd+=(--shard "$SHARD")
  for glob in ${FILES:-}; do cmd+=(-f "$glob"); done
  [ -n "${ITERATE:-}" ] && cmd+=(--iterate)
  [ -n "${RE:-}" ] && cmd+=(--re "$RE")
  if [ -n "${BASE:-}" ]; then
    git diff "$BASE" > "$out/base.diff" || exit 2
    cmd+=(--in-diff "$out/base.diff")
  fi
  # shellcheck disable=SC2206 # TEST_ARGS is a list of words
  [ -n "${TEST_ARGS:-}" ] && test_args=($TEST_ARGS)
  [ ${#test_args[@]} -gt 0 ] && cmd+=(-- "${test_args[@]}")
  echo "== ${cmd[*]}" >&2
  start=$(date +%s)
  "${cmd[@]}"
  rc=$?
  # 0: all caught; 2: some missed; 3: some timed out; anything else: the run itself failed.
  case $rc in 0 | 2 | 3) ;; *) echo "cargo mutants failed for $crate (exit $rc)" >&2 ;; esac
  [ "$rc" -ne 0 ] && status=1
  summaries+=("$(summary "$label" "$out" $(($(date +%s) - start)))")
done
printf '%s\n' "${summaries[@]}"
exit $status
