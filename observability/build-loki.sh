#!/usr/bin/env bash
# Builds Loki from its Go module into OUT (make tools; no container image is needed or available).
# The module's go.mod replaces its push package with a relative path that `go install` refuses,
# so the module is copied somewhere writable, the replace dropped, and the binary built there.
#
#   observability/build-loki.sh v3.7.8 ~/.cache/product-service-lab/tools/loki-v3.7.8/loki
set -euo pipefail
version=$1 out=$2
go=${GO:-go}

dir=$("$go" mod download -json "github.com/grafana/loki/v3@$version" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')
[[ -n "$dir" && -d "$dir" ]] || { echo "build-loki: could not download github.com/grafana/loki/v3@$version" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/loki-src.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
sed -i '/^replace github.com\/grafana\/loki\/pkg\/push => /d' "$work/go.mod"

mkdir -p "$(dirname "$out")"
echo "build-loki: building Loki $version (several minutes the first time)"
(cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -trimpath -o "$out.tmp" ./cmd/loki)
mv "$out.tmp" "$out"
echo "build-loki: $out"
