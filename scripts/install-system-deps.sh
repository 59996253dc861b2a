#!/usr/bin/env bash
# Debian packages the tests use (sandboxing, the nginx data plane, the Docker engine and compose for
# Layer 1, a static busybox for registry-free test images, Debian's chromium for the browser tests
# of the pages, driven by playwright-core: never a downloaded browser). Idempotent; does nothing when all are present.
# dockerd is not started here: scripts/start-dockerd.sh does that.
set -euo pipefail
pkgs=(bubblewrap nginx-light git docker.io docker-compose busybox-static chromium)
bins=(bwrap nginx git dockerd docker-compose busybox chromium)
missing=()
for i in "${!pkgs[@]}"; do command -v "${bins[$i]}" >/dev/null 2>&1 || missing+=("${pkgs[$i]}"); done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "install-system-deps: missing ${missing[*]} and cannot apt-get install here; some tests will report what is not enforced" >&2
  exit 0
fi
echo "install-system-deps: apt-get install ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
