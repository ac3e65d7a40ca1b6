#!/usr/bin/env bash
# `make image`: the debootstrap base (cached), then the project image from deploy/Dockerfile.
# The build context is a temp folder with only what the Dockerfile copies, plus the host's CA bundle
# as build-ca.crt for the builder stage (TLS egress here is intercepted; see deploy/Dockerfile).
# Env: IMAGE (default mlops-assets:local), BASE_IMAGE, BUILD_CA (default the system bundle, "none"
# for no bundle), NO_CACHE=1 for a cold build. Prints the build time and image size at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
IMAGE="${IMAGE:-mlops-assets:local}"
BASE_IMAGE="${BASE_IMAGE:-mlops-assets-base:bookworm}"
BUILD_CA="${BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}"

deploy/image/dockerd.sh
BASE_IMAGE="$BASE_IMAGE" deploy/image/build-base.sh "$BASE_IMAGE"

ctx="$(mktemp -d /var/tmp/mlops-image-ctx.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT
cp deploy/Dockerfile pyproject.toml uv.lock README.md "$ctx"/
# The package as git would ship it: no caches, no local state.
tar -c --exclude='__pycache__' --exclude='*.pyc' mlops_assets | tar -x -C "$ctx"
if [ "$BUILD_CA" != none ]; then
  cp "$BUILD_CA" "$ctx/build-ca.crt"
fi

# The image is labelled with a hash of what went into it; the same sources on the same base are not
# rebuilt (the classic builder re-hashes the 1.3 GB venv on every cached COPY, minutes on 2 busy cores).
base_id="$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE")"
src_hash="$( (cd "$ctx" && find . -type f ! -name build-ca.crt -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; echo "$base_id") | sha256sum | cut -c1-16)"
if [ "${NO_CACHE:-0}" != 1 ] \
   && [ "$(docker image inspect -f '{{index .Config.Labels "mlops-assets.source-hash"}}' "$IMAGE" 2>/dev/null)" = "$src_hash" ]; then
  echo "image $IMAGE is up to date (source hash $src_hash)"
  exit 0
fi
args=(--network host -f "$ctx/Dockerfile" --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE"
      --label "mlops-assets.source-hash=$src_hash")
[ "${NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
start=$(date +%s)
DOCKER_BUILDKIT=0 docker build "${args[@]}" "$ctx"
size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
echo "image $IMAGE built in $(( $(date +%s) - start )) s, $((size / 1000000)) MB"
