#!/usr/bin/env bash
# Builds the SageMaker Processing image of the preprocessing program (`mdlc-trainer preprocess`)
# and, when asked, pushes it to this account's `mdlc-preprocess` ECR repository:
#   scripts/build-preprocess-image.sh                  x86_64 binary + `docker build` (local tag)
#   PUSH=1 scripts/build-preprocess-image.sh           ... + push <account>.dkr.ecr.<region>.amazonaws.com/mdlc-preprocess:<release>
#   BINARY_ONLY=1 scripts/build-preprocess-image.sh    only the checked binary (no Docker, no AWS)
# `make preprocess-image [PUSH=1]` runs this script.
#
# <release> is the workspace version (mdlc-core's CARGO_PKG_VERSION), exactly the tag of the
# default `preprocessing.image` (crates/core/src/images.rs, preprocess_image), so a training
# execution with a `preprocessing` block and no `image` finds what this script pushed.
#
# Variables:
#   PUSH=1            log in to ECR and push (region and account as below)
#   AWS_REGION        region of the repository (else AWS_DEFAULT_REGION, else `aws configure get region`)
#   AWS_PROFILE, ...  credentials as usual; the account is `aws sts get-caller-identity`'s
#   IMAGE_TAG         another tag than <release>; executions must then set `preprocessing.image`
#   DOCKER            the docker command (default: docker)
#   CARGO_TARGET_DIR  cargo's target directory (default: target/)
#
# Steps:
# 1. With PUSH=1, checks first (before the slow build) that aws works, the repository exists
#    (the stack creates it unless CreatePreprocessRepository=false) and the tag is not there yet:
#    the repository's tags are immutable, so an existing <release> tag is kept and nothing is pushed.
# 2. `cargo lambda build --release --x86-64` (cargo-lambda + zig from .tools/build, see
#    scripts/tools.sh): an x86_64 Linux binary linked by zig against an older glibc than the
#    image's Amazon Linux 2023 (2.34) and needing only libc/libm/libpthread/libdl. Processing
#    instances (ml.m5.*, ml.c5.*) are x86_64. cargo-lambda moves the binary to
#    $CARGO_TARGET_DIR/preprocess-image/mdlc-trainer/bootstrap (Lambda's name for it).
# 3. Checks the binary: x86_64 ELF, executable, no glibc symbol newer than 2.34. On an x86_64
#    Linux host it also runs it by the processing contract on a small generated data set.
# 4. `docker build --platform linux/amd64` of infra/images/preprocess/Dockerfile, with a build
#    context holding only the binary; with PUSH=1, ECR login and `docker push`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

REPOSITORY=mdlc-preprocess
TARGET_TRIPLE=x86_64-unknown-linux-gnu
MAX_GLIBC=2.34
DOCKERFILE=infra/images/preprocess/Dockerfile
DOCKER=${DOCKER:-docker}
PUSH=${PUSH:-0}
BINARY_ONLY=${BINARY_ONLY:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}

die() { echo "build-preprocess-image: $*" >&2; exit 1; }
note() { echo "build-preprocess-image: $*" >&2; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
errors=$scratch/stderr

case "$PUSH" in 0 | "" | false | no) PUSH=0 ;; *) PUSH=1 ;; esac
case "$BINARY_ONLY" in 0 | "" | false | no) BINARY_ONLY=0 ;; *) BINARY_ONLY=1 ;; esac
if (( PUSH && BINARY_ONLY )); then die "PUSH=1 and BINARY_ONLY=1 exclude each other"; fi

command -v cargo >/dev/null || die "cargo is not on PATH (install Rust with rustup)"
command -v python3 >/dev/null || die "python3 is not on PATH"

# The release: the version of mdlc-core, the crate whose preprocess_image() names the default image.
RELEASE=$(cargo metadata --no-deps --format-version 1 --offline 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["name"] == "mdlc-core":
        print(p["version"])
        break
') || true
[ -n "$RELEASE" ] || die "cannot read the version of mdlc-core from 'cargo metadata'"
TAG=${IMAGE_TAG:-$RELEASE}
[[ "$TAG" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || die "IMAGE_TAG '$TAG' is not a valid image tag"
LOCAL_IMAGE="$REPOSITORY:$TAG"

# --- 1. Docker and AWS prerequisites, before the build ------------------------------------------
if (( ! BINARY_ONLY )); then
  command -v "$DOCKER" >/dev/null ||
    die "'$DOCKER' is not installed: Docker (or DOCKER=<compatible CLI>) is needed to build the image; BINARY_ONLY=1 builds only the binary"
  "$DOCKER" info >/dev/null 2>&1 ||
    die "cannot reach the Docker daemon with '$DOCKER info' (is it running, and may this user use it?)"
  [ -f "$DOCKERFILE" ] || die "missing $DOCKERFILE"
fi

REMOTE_IMAGE=
if (( PUSH )); then
  command -v aws >/dev/null ||
    die "the AWS CLI ('aws') is needed to push; install it and configure credentials (AWS_PROFILE, aws sso login, ...)"
  REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region 2>/dev/null || true)}}
  [ -n "$REGION" ] || die "no AWS region: set AWS_REGION (the region of the deployed stack)"
  ACCOUNT=$(aws sts get-caller-identity --query Account --output text 2>"$errors") ||
    die "no usable AWS credentials ('aws sts get-caller-identity' failed: $(cat "$errors"))"
  [[ "$ACCOUNT" =~ ^[0-9]{12}$ ]] || die "unexpected account id '$ACCOUNT' from 'aws sts get-caller-identity'"
  DOMAIN=amazonaws.com
  if [[ "$REGION" == cn-* ]]; then DOMAIN=amazonaws.com.cn; fi
  REGISTRY="$ACCOUNT.dkr.ecr.$REGION.$DOMAIN"
  REMOTE_IMAGE="$REGISTRY/$REPOSITORY:$TAG"

  if ! aws ecr describe-repositories --region "$REGION" --repository-names "$REPOSITORY" >/dev/null 2>"$errors"; then
    err=$(cat "$errors")
    if [[ "$err" == *RepositoryNotFoundException* ]]; then
      die "there is no ECR repository '$REPOSITORY' in $ACCOUNT/$REGION: deploy the stack ('make deploy', parameter CreatePreprocessRepository=true, the default) in this region first"
    fi
    die "cannot describe the ECR repository '$REPOSITORY' in $REGION: $err"
  fi
  if existing=$(aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" \
      --image-ids "imageTag=$TAG" --query 'imageDetails[0].imageDigest' --output text 2>"$errors"); then
    note "$REMOTE_IMAGE already exists ($existing); the repository's tags are immutable, so nothing is pushed."
    note "to publish a changed build, bump the workspace version, or push IMAGE_TAG=<tag> and set preprocessing.image to it."
    exit 0
  fi
  err=$(cat "$errors")
  [[ "$err" == *ImageNotFoundException* ]] || die "cannot list the images of '$REPOSITORY' in $REGION: $err"
fi

# --- 2. The x86_64 binary -----------------------------------------------------------------------
scripts/tools.sh build
export PATH="$ROOT/.tools/build/bin:$PATH"
command -v cargo-lambda >/dev/null || die "cargo-lambda is not in .tools/build/bin (scripts/tools.sh build)"
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET_TRIPLE"; then
  note "installing the Rust standard library for $TARGET_TRIPLE ..."
  rustup target add "$TARGET_TRIPLE" >&2
fi

note "cargo lambda build --release --x86-64 -p mdlc-trainer --bin mdlc-trainer"
BINARY="$CARGO_TARGET_DIR/preprocess-image/mdlc-trainer/bootstrap"
rm -f "$BINARY"
cargo lambda build --release --x86-64 -p mdlc-trainer --bin mdlc-trainer \
  --lambda-dir "$CARGO_TARGET_DIR/preprocess-image"
[ -f "$BINARY" ] || die "cargo-lambda wrote no $BINARY"

# --- 3. Checks ----------------------------------------------------------------------------------
python3 - "$BINARY" "$MAX_GLIBC" <<'PY' || exit 1
import os, re, struct, sys
path, max_glibc = sys.argv[1], tuple(int(x) for x in sys.argv[2].split("."))
with open(path, "rb") as f:
    data = f.read()
if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
    sys.exit(f"{path}: not a 64-bit little-endian ELF file")
(machine,) = struct.unpack_from("<H", data, 18)
if machine != 0x3E:
    sys.exit(f"{path}: built for ELF machine {machine:#x}, not x86_64 (0x3e)")
if not os.access(path, os.X_OK):
    sys.exit(f"{path}: not executable")
versions = {tuple(int(x) for x in m.split(b".")) for m in re.findall(rb"GLIBC_(\d+\.\d+(?:\.\d+)?)\x00", data)}
newest = max(versions, default=(0,))
if newest > max_glibc:
    sys.exit(f"{path}: needs glibc {'.'.join(map(str, newest))}, newer than Amazon Linux 2023's {sys.argv[2]}")
print(f"{path}: x86_64 ELF, {os.path.getsize(path)} bytes, newest glibc symbol {'.'.join(map(str, newest))}")
PY

if [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ]; then
  # The processing contract, as SageMaker runs the image: MDLC_OPT_ML stands for /opt/ml, the
  # arguments are the ones the initialize function plans.
  work=$scratch/smoke
  "$BINARY" generate --problem binary --rows 400 --features 3 --seed 7 --out "$work/gen" >/dev/null
  mkdir -p "$work/ml/processing/input"
  cp "$work/gen/train.csv" "$work/ml/processing/input/raw.csv"
  MDLC_OPT_ML="$work/ml" "$BINARY" preprocess --train-ratio 0.8 --seed 42 --problem binary --bins 10 >/dev/null ||
    die "smoke test: preprocess failed: $(cat "$work/ml/output/message" 2>/dev/null)"
  for f in train/train.csv validation/validation.csv profile/profile.json; do
    [ -s "$work/ml/processing/output/$f" ] || die "smoke test: preprocess wrote no processing/output/$f"
  done
  printf '1,2\nx,3\n' > "$work/ml/processing/input/raw.csv"
  if MDLC_OPT_ML="$work/ml" "$BINARY" preprocess --train-ratio 0.8 --seed 42 --problem binary --bins 10 >/dev/null 2>&1; then
    die "smoke test: preprocess accepted a malformed CSV"
  fi
  [ -s "$work/ml/output/message" ] || die "smoke test: a failed preprocess wrote no output/message (the ExitMessage)"
  note "smoke test passed: split + profile written under processing/output; a bad input fails with output/message"
else
  note "not an x86_64 Linux host: the binary is not run here"
fi

if (( BINARY_ONLY )); then
  echo "$BINARY"
  exit 0
fi

# --- 4. The image -------------------------------------------------------------------------------
context=$scratch/context
mkdir -p "$context"
cp "$BINARY" "$context/mdlc-trainer"
chmod 0755 "$context/mdlc-trainer"
tags=(-t "$LOCAL_IMAGE")
if [ -n "$REMOTE_IMAGE" ]; then tags+=(-t "$REMOTE_IMAGE"); fi
note "$DOCKER build --platform linux/amd64 ${tags[*]}"
"$DOCKER" build --platform linux/amd64 --build-arg "VERSION=$TAG" "${tags[@]}" -f "$DOCKERFILE" "$context"

if (( ! PUSH )); then
  note "built $LOCAL_IMAGE; 'make preprocess-image PUSH=1' pushes it to your account's ECR"
  exit 0
fi

note "logging in to $REGISTRY"
aws ecr get-login-password --region "$REGION" | "$DOCKER" login --username AWS --password-stdin "$REGISTRY" >/dev/null ||
  die "docker login to $REGISTRY failed"
"$DOCKER" push "$REMOTE_IMAGE"
note "pushed $REMOTE_IMAGE"
if [ "$TAG" != "$RELEASE" ]; then
  note "IMAGE_TAG is not the release ($RELEASE): set \"preprocessing\": {\"image\": \"$REMOTE_IMAGE\"} in the execution input"
fi
