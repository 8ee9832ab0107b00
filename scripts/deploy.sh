#!/usr/bin/env bash
# Deploys infra/template.yaml with the prebuilt arm64 zips (no `sam build`, no Docker):
#   scripts/deploy.sh [extra `sam deploy` arguments]      (`make deploy` builds the zips first)
# - The first time (infra/samconfig.toml has no stack_name yet) it runs `sam deploy --guided`,
#   which asks for the stack name, region and parameters and saves them to infra/samconfig.toml;
#   after that it runs `sam deploy` with the saved answers (extra arguments override them).
# - aws-sam-cli is installed from PyPI into .tools/sam on first use.
# - AWS credentials come from the usual places (AWS_PROFILE, environment, SSO, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SAM_VENV=.tools/sam
SAM_REQUIREMENT="aws-sam-cli>=1.130,<2"
# The zips to check are the template's own: every CodeUri ../target/lambda/<function>/bootstrap.zip
# (scripts/lint-infra.sh checks that this list equals the Makefile's FUNCTIONS, which `make build`
# builds).
mapfile -t FUNCTIONS < <(sed -nE 's#^[[:space:]]*CodeUri:[[:space:]]*\.\./target/lambda/([a-z0-9-]+)/bootstrap\.zip[[:space:]]*$#\1#p' infra/template.yaml)
if (( ${#FUNCTIONS[@]} == 0 )); then
  echo "deploy: infra/template.yaml has no CodeUri ../target/lambda/<function>/bootstrap.zip" >&2
  exit 1
fi

# The template's CodeUri is ../target/lambda/<function>/bootstrap.zip (relative to infra/).
missing=()
for fn in "${FUNCTIONS[@]}"; do
  [ -f "target/lambda/$fn/bootstrap.zip" ] || missing+=("$fn")
done
if (( ${#missing[@]} )); then
  echo "deploy: no arm64 zip for: ${missing[*]} (expected target/lambda/<function>/bootstrap.zip)." >&2
  echo "deploy: run 'make build' first." >&2
  exit 1
fi

guided=1
if grep -Eq '^[[:space:]]*stack_name[[:space:]]*=' infra/samconfig.toml || [[ " $* " == *" --stack-name "* ]]; then
  guided=0
fi
if (( guided )) && [ ! -t 0 ]; then
  echo "deploy: infra/samconfig.toml has no stack yet and stdin is not a terminal, so the guided" >&2
  echo "deploy cannot ask its questions. Run 'make deploy' in a terminal once, or pass" >&2
  echo "  scripts/deploy.sh --stack-name NAME --region REGION [--parameter-overrides Key=Value ...]" >&2
  exit 1
fi

if [ ! -f "$SAM_VENV/.stamp" ] || [ "$(cat "$SAM_VENV/.stamp")" != "$SAM_REQUIREMENT" ]; then
  echo "installing aws-sam-cli into $SAM_VENV ..." >&2
  rm -rf "$SAM_VENV"
  "${PYTHON:-python3}" -m venv "$SAM_VENV"
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check --upgrade pip >&2
  "$SAM_VENV/bin/pip" install --quiet --disable-pip-version-check "$SAM_REQUIREMENT" >&2
  echo "$SAM_REQUIREMENT" > "$SAM_VENV/.stamp"
fi
SAM="$ROOT/$SAM_VENV/bin/sam"

# Run from infra/ so that the template's relative paths and the config file resolve alike.
cd infra
if (( guided )); then
  echo "deploy: first deploy: 'sam deploy --guided' (answers are saved to infra/samconfig.toml)" >&2
  exec "$SAM" deploy --guided --template-file template.yaml --config-file samconfig.toml "$@"
fi
exec "$SAM" deploy --template-file template.yaml --config-file samconfig.toml "$@"
