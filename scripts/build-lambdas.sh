#!/usr/bin/env bash
# Builds one arm64 (Graviton) `bootstrap` zip per Lambda function with cargo-lambda and zig:
#   scripts/build-lambdas.sh FN...      e.g. scripts/build-lambdas.sh initialize find-model
# Output: target/lambda/<FN>/bootstrap.zip (cargo-lambda's --lambda-dir, whatever CARGO_TARGET_DIR
# says), which is what infra/template.yaml's CodeUri points at.
#
# - cargo-lambda and ziglang come from PyPI into .tools/build (scripts/tools.sh build); that venv's
#   bin goes first on PATH so cargo-lambda finds zig.
# - Functions are selected with one `-p FN` each (cargo-lambda treats every bin of a package as a
#   Lambda, so a bare build at the workspace root would also zip the CLI and other tools), in one
#   cargo invocation per group of functions whose features agree (feature_groups below).
# - Profile `lambda` of the root Cargo.toml: opt-level s, fat LTO, one codegen unit, stripped,
#   panic = unwind (the runtime turns a handler panic into an error answer).
# - Fails when a zip is missing, has no executable aarch64 ELF `bootstrap` at its root, or is larger
#   than MDLC_LAMBDA_ZIP_LIMIT bytes (default 4 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

if [ $# -eq 0 ]; then
  echo "usage: $0 FUNCTION..." >&2
  echo "  e.g. $0 initialize train create-model register-model find-model monitor-performance is-retraining-needed" >&2
  exit 2
fi

TARGET_TRIPLE=aarch64-unknown-linux-gnu
PROFILE=lambda
LIMIT=${MDLC_LAMBDA_ZIP_LIMIT:-4194304}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
LAMBDA_DIR=$ROOT/target/lambda

for fn in "$@"; do
  if [ ! -f "crates/functions/$fn/Cargo.toml" ]; then
    echo "build-lambdas: unknown function '$fn' (no crates/functions/$fn/Cargo.toml)" >&2
    exit 2
  fi
done

scripts/tools.sh build
export PATH="$ROOT/.tools/build/bin:$PATH"
command -v cargo-lambda >/dev/null || { echo "build-lambdas: cargo-lambda is not in .tools/build/bin" >&2; exit 1; }

# The Rust standard library for the target (cargo-lambda links with zig but needs rustc's std).
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET_TRIPLE"; then
  echo "installing the Rust standard library for $TARGET_TRIPLE ..." >&2
  rustup target add "$TARGET_TRIPLE" >&2
fi

# Checks one zip: bootstrap at the root, an executable 64-bit little-endian aarch64 ELF.
check_zip() { # zip
  python3 - "$1" <<'PY'
import stat, struct, sys, zipfile
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    names = z.namelist()
    if "bootstrap" not in names:
        sys.exit(f"{path}: no 'bootstrap' at the root of the zip (has {names})")
    info = z.getinfo("bootstrap")
    head = z.open(info).read(20)
mode = info.external_attr >> 16
if not mode & stat.S_IXUSR:
    sys.exit(f"{path}: bootstrap is not executable (mode {oct(mode)})")
if head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
    sys.exit(f"{path}: bootstrap is not a 64-bit little-endian ELF file")
(machine,) = struct.unpack_from("<H", head, 18)
if machine != 0xB7:
    sys.exit(f"{path}: bootstrap is built for ELF machine {machine:#x}, not aarch64 (0xb7)")
PY
}

# Groups the functions whose dependencies resolve to the same features (`cargo tree -p FN`, one
# line per group, functions separated by spaces). Cargo unifies the features of all packages
# selected in one build, so building a function that enables a feature (mdlc-lambda's
# eventbridge: register-model, is-retraining-needed) together with one that does not would link
# the feature's code (the EventBridge client) into both.
feature_groups() { # FN...
  python3 - "$TARGET_TRIPLE" "$@" <<'PY'
import subprocess, sys
triple, fns = sys.argv[1], sys.argv[2:]
def features(fn):
    out = subprocess.run(
        ["cargo", "tree", "-p", fn, "-e", "normal,build", "--prefix", "none",
         "--target", triple, "-f", "{p}|{f}"],
        check=True, capture_output=True, text=True).stdout
    seen = {}
    for line in out.splitlines():
        package, _, feats = line.removesuffix(" (*)").partition("|")
        name = package.split(" ")[0]
        seen.setdefault(name, set()).add(feats.strip())
    return seen
groups = []  # [(functions, {package: feature sets})]
for fn in fns:
    mine = features(fn)
    for members, resolved in groups:
        if all(resolved[p] == f for p, f in mine.items() if p in resolved):
            members.append(fn)
            resolved.update(mine)
            break
    else:
        groups.append(([fn], dict(mine)))
for members, _ in groups:
    print(" ".join(members))
PY
}

# One cargo invocation per group of functions with the same features, one `-p` per function:
# the shared dependencies compile once, and the final (fat-LTO, single-codegen-unit) links of a
# group's functions run in parallel.
for fn in "$@"; do rm -f "$LAMBDA_DIR/$fn/bootstrap.zip"; done
mapfile -t groups < <(feature_groups "$@")
start=$(date +%s)
for group in "${groups[@]}"; do
  packages=()
  for fn in $group; do packages+=(-p "$fn"); done
  echo "== cargo lambda build --arm64 --profile $PROFILE --output-format zip ${packages[*]}" >&2
  cargo lambda build --arm64 --profile "$PROFILE" --output-format zip --lambda-dir "$LAMBDA_DIR" "${packages[@]}"
done
seconds=$(( $(date +%s) - start ))

results=()
status=0
for fn in "$@"; do
  zip="$LAMBDA_DIR/$fn/bootstrap.zip"
  if [ ! -f "$zip" ]; then
    echo "build-lambdas: $fn: cargo-lambda wrote no $zip" >&2
    exit 1
  fi
  check_zip "$zip"
  size=$(stat -c %s "$zip")
  verdict=ok
  if (( size > LIMIT )); then verdict="OVER LIMIT ($LIMIT bytes)"; status=1; fi
  results+=("$(printf '%-22s %10d bytes  %6.2f MiB  %s' "$fn" "$size" "$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')" "$verdict")")
done

echo
echo "arm64 bootstrap zips ($LAMBDA_DIR/<function>/bootstrap.zip), built in ${seconds}s:"
printf '  %s\n' "${results[@]}"
if (( status )); then echo "build-lambdas: a zip is larger than the limit" >&2; fi
exit $status
