# Sourced (not run) by the benchmarks of the built-in trainer against real XGBoost
# (bench-trainer.sh, bench-realdata.sh), from the repository root:
#   trainer_vs_xgboost NAME
# sets ROOT, CARGO_TARGET_DIR (kept when set), PY (.tools/venv's python, which must import
# xgboost; installed by scripts/tools.sh) and BIN (the release mdlc-trainer, built here); NAME
# prefixes the progress and error lines on stderr.
trainer_vs_xgboost() {
  local name=$1
  ROOT=$PWD
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
  PY=$ROOT/.tools/venv/bin/python
  if [ ! -x "$PY" ] || ! "$PY" -c 'import xgboost' 2>/dev/null; then
    echo "$name: python xgboost is missing; run scripts/tools.sh first" >&2
    exit 1
  fi
  echo "$name: cargo build --release -p mdlc-trainer" >&2
  cargo build --release -p mdlc-trainer >&2
  BIN=$CARGO_TARGET_DIR/release/mdlc-trainer
}
