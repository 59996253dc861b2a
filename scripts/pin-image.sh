#!/usr/bin/env bash
# Writes a released daemon image, by digest, into docker-compose.yaml (the file the CVM's
# compose-hash commits to). Usage: scripts/pin-image.sh ghcr.io/org/dstack-webhost@sha256:<64 hex>
set -euo pipefail
ref="${1:-}"
if ! [[ "$ref" =~ ^[a-z0-9./_-]+(:[0-9]+)?(/[a-z0-9._-]+)*@sha256:[0-9a-f]{64}$ ]]; then
  echo "pin-image: expected <image>@sha256:<64 hex digest>, got '$ref'" >&2
  exit 2
fi
cd "$(dirname "$0")/.."
sed -i -E "s#^(    image: ).*@sha256:[0-9a-f]{64}\$#\\1${ref}#" docker-compose.yaml
grep -q "image: ${ref}\$" docker-compose.yaml || { echo "pin-image: could not rewrite docker-compose.yaml" >&2; exit 1; }
echo "docker-compose.yaml now runs ${ref}"
