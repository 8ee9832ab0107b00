#!/usr/bin/env bash
# Lints the deployable infrastructure; exits non-zero on any problem:
#   1. cfn-lint on infra/template.yaml             (no error, no warning)
#   2. checkov on infra/template.yaml              (no failed check; skips are inline, with reasons)
#   3. asl-validator on both state machines        (statemachine/*.asl.json)
#   4. placeholders: every ${Name} a state machine uses is in its DefinitionSubstitutions, and
#      every substitution is used (a missing one would deploy a definition with a literal ${...})
#   5. functions: the Makefile's FUNCTIONS (built by `make build`), the template's CodeUri zips
#      (checked by scripts/deploy.sh) and the crates under crates/functions are the same set
# Tools come from scripts/tools.sh (a no-op when they are installed already).
set -uo pipefail
cd "$(dirname "$0")/.."

TEMPLATE=infra/template.yaml
MACHINES=(statemachine/training.asl.json statemachine/evaluation.asl.json)

scripts/tools.sh test || { echo "lint-infra: installing the lint tools failed" >&2; exit 1; }

failed=()
step() { printf '\n== %s\n' "$1"; }

step "cfn-lint $TEMPLATE"
.tools/venv/bin/cfn-lint "$TEMPLATE"
rc=$?
# cfn-lint's exit code is a bit set: 2 errors, 4 warnings, 8 informational, 1 a crash.
if (( rc & 7 )); then failed+=("cfn-lint (exit $rc)"); else echo "cfn-lint: no errors or warnings"; fi

step "checkov $TEMPLATE"
if ! .tools/checkov/bin/checkov -f "$TEMPLATE" --framework cloudformation --skip-download --quiet --compact; then
  failed+=("checkov")
fi

for asl in "${MACHINES[@]}"; do
  step "asl-validator $asl"
  if [ ! -f "$asl" ]; then
    echo "missing: $asl" >&2
    failed+=("asl-validator $asl (file missing)")
    continue
  fi
  if ! node_modules/.bin/asl-validator --json-path "$asl"; then failed+=("asl-validator $asl"); fi
done

step "placeholders vs DefinitionSubstitutions"
if ! .tools/venv/bin/python - "$TEMPLATE" <<'PY'
import json, re, sys
from pathlib import Path

from cfnlint.decode import decode

template_path = Path(sys.argv[1])
template, matches = decode(str(template_path))
if matches or template is None:
    for m in matches or []:
        print(f"{template_path}: {m}")
    sys.exit(1)

problems = []
machines = {
    name: res.get("Properties", {})
    for name, res in template.get("Resources", {}).items()
    if res.get("Type") in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
}
if not machines:
    problems.append(f"{template_path}: no state machine resource")
placeholder = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
for name, props in sorted(machines.items()):
    uri = props.get("DefinitionUri")
    if not isinstance(uri, str):
        problems.append(f"{name}: DefinitionUri must be a local file path, found {uri!r}")
        continue
    path = (template_path.parent / uri).resolve()
    try:
        text = path.read_text()
        json.loads(text)
    except FileNotFoundError:
        problems.append(f"{name}: {uri} does not exist")
        continue
    except json.JSONDecodeError as e:
        problems.append(f"{name}: {uri} is not JSON: {e}")
        continue
    used = set(placeholder.findall(text))
    given = set((props.get("DefinitionSubstitutions") or {}).keys())
    for missing in sorted(used - given):
        problems.append(f"{name}: {uri} uses ${{{missing}}} but DefinitionSubstitutions has no {missing}")
    for unused in sorted(given - used):
        problems.append(f"{name}: DefinitionSubstitutions.{unused} is not used by {uri}")
    if used <= given:
        print(f"{name}: {uri} uses {len(used)} placeholders, all substituted")

for p in problems:
    print(p, file=sys.stderr)
sys.exit(1 if problems else 0)
PY
then
  failed+=("placeholders")
fi

step "functions: Makefile FUNCTIONS = the template's CodeUri zips = crates/functions"
# `make build` builds the Makefile's FUNCTIONS, scripts/deploy.sh checks the template's CodeUri
# zips, and each function is a crate: one missing from any of the three deploys a stale or no zip.
make_fns=$(sed -nE 's/^FUNCTIONS :=[[:space:]]*//p' Makefile | tr ' ' '\n' | sed '/^$/d' | sort)
template_fns=$(sed -nE 's#^[[:space:]]*CodeUri:[[:space:]]*\.\./target/lambda/([a-z0-9-]+)/bootstrap\.zip[[:space:]]*$#\1#p' "$TEMPLATE" | sort)
crate_fns=$(for d in crates/functions/*/; do d=${d%/}; [ -f "$d/src/main.rs" ] && basename "$d"; done | sort)
if [ -n "$make_fns" ] && [ "$make_fns" = "$template_fns" ] && [ "$make_fns" = "$crate_fns" ]; then
  echo "$(wc -l <<<"$make_fns") functions, the same in the Makefile, the template and crates/functions"
else
  echo "function lists differ:" >&2
  diff <(echo "$make_fns") <(echo "$template_fns") | sed 's/^/  Makefile vs template: /' >&2
  diff <(echo "$make_fns") <(echo "$crate_fns") | sed 's/^/  Makefile vs crates\/functions: /' >&2
  failed+=("functions")
fi

echo
if (( ${#failed[@]} )); then
  echo "lint-infra: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "lint-infra: all clean (cfn-lint, checkov, asl-validator, placeholders, functions)"
