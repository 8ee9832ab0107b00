#!/usr/bin/env bash
# Installs the test/lint tools into ignored folders of the repository, once:
#   .tools/venv     moto[server], cfn-lint, mlflow, xgboost, awscli (tools/requirements-test.txt)
#   .tools/checkov  checkov                                   (tools/requirements-checkov.txt)
#   .tools/sagemaker sagemaker-core (SDK image URI tables)    (tools/requirements-sagemaker.txt)
#   .tools/airflow  apache-airflow, its Amazon provider, pytest (tools/requirements-airflow.txt,
#                   with every dependency pinned by tools/constraints-airflow.txt)
#   .tools/build    cargo-lambda, ziglang                     (tools/requirements-build.txt; `build` arg)
#   node_modules    asl-validator, jsonata                    (package.json)
#   chromium        Debian's chromium package (headless browser test of the HTML report; `test` arg,
#                   installed with apt-get when missing and running as root, else a warning and
#                   tests/tests/report_browser.rs fails saying so)
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

chromium_tool() {
  if command -v chromium >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing chromium (apt-get) ..." >&2
    apt-get update >&2 && apt-get install -y chromium >&2
  else
    echo "warning: chromium is not installed and this is not a root shell with apt-get:" \
      "the headless browser test of the report will fail; install Debian's chromium package" >&2
  fi
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
    chromium_tool
    ;;
  build)
    venv .tools/build tools/requirements-build.txt
    ;;
  *) echo "usage: $0 [test|build]" >&2; exit 2 ;;
esac
