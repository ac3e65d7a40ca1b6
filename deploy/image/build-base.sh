#!/usr/bin/env bash
# Base image for deploy/Dockerfile, made here from Debian packages (no registry image is reachable):
# debootstrap a minimal bookworm with python3 + venv + Debian's CA certificates, then `docker import`.
# Cached: nothing is done when the image already exists (FORCE=1 rebuilds it).
# Usage: deploy/image/build-base.sh [IMAGE]   (default mlops-assets-base:bookworm)
set -euo pipefail
IMAGE="${1:-${BASE_IMAGE:-mlops-assets-base:bookworm}}"
SUITE=bookworm

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base image $IMAGE exists (FORCE=1 rebuilds it)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }

# The Debian mirror this machine's apt already uses (deb822 .sources or one-line .list), else the default.
mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  mirror="$(grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources | awk '{print $2}' | grep -v security | head -n1 || true)"
fi
if [ -z "$mirror" ]; then
  mirror="$(grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list | awk '{print $2}' | grep -v security | head -n1 || true)"
fi
mirror="${mirror:-http://deb.debian.org/debian}"

root="$(mktemp -d /var/tmp/mlops-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "debootstrap $SUITE from $mirror into $root"
start=$(date +%s)
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$SUITE" "$root" "$mirror" \
  >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
# apt lists and caches are not needed at run time; nothing of the host is copied in.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8' \
  --change 'CMD ["/bin/bash"]' - "$IMAGE" >/dev/null
echo "base image $IMAGE built in $(( $(date +%s) - start )) s"
