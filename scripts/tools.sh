#!/usr/bin/env bash
# Installs the test/lint tools into ignored folders of the repository, once:
#   .tools/venv     moto[server], cfn-lint, mlflow, xgboost   (tools/requirements-test.txt)
#   .tools/checkov  checkov                                   (tools/requirements-checkov.txt)
#   .tools/sagemaker sagemaker-core (SDK image URI tables)    (tools/requirements-sagemaker.txt)
#   .tools/airflow  apache-airflow, its Amazon provider, pytest (tools/requirements-airflow.txt,
#                   with every dependency pinned by tools/constraints-airflow.txt)
#   .tools/build    cargo-lambda, ziglang                     (tools/requirements-build.txt; `build` arg)
#   node_modules    asl-validator, jsonata                    (package.json)
# A stamp file per tool set makes a second run instant; editing a requirements file (or the
# constraints file it names) reinstalls.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
mkdir -p .tools

venv() { # dir requirements [constraints files the requirements name with -c]
  local dir=$1 req=$2 stamp=$1/.stamp
  if [ -f "$stamp" ] && cmp -s <(cat "${@:2}") "$stamp"; then return 0; fi
  echo "installing $(basename "$dir") tools from $req ..." >&2
  rm -rf "$dir"
  "$PY" -m venv "$dir"
  "$dir/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
  "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$req" >&2
  cat "${@:2}" > "$stamp"
}

what=${1:-test}
case "$what" in
  test)
    venv .tools/venv tools/requirements-test.txt
    venv .tools/checkov tools/requirements-checkov.txt
    venv .tools/sagemaker tools/requirements-sagemaker.txt
    venv .tools/airflow tools/requirements-airflow.txt tools/constraints-airflow.txt
    if [ ! -f node_modules/.stamp ] || ! cmp -s package.json node_modules/.stamp; then
      echo "installing node tools ..." >&2
      npm install --no-audit --no-fund --silent >&2
      cp package.json node_modules/.stamp
    fi
    ;;
  build)
    venv .tools/build tools/requirements-build.txt
    ;;
  *) echo "usage: $0 [test|build]" >&2; exit 2 ;;
esac
