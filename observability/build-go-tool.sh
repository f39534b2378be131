#!/usr/bin/env bash
# Builds a tool from its Go module source into OUT (make tools). Used for Loki and Jaeger, whose
# modules cannot be `go install`ed (Loki's go.mod replaces a package with a relative path), so the
# module is copied somewhere writable, such replaces dropped, and the binary built there.
#
#   observability/build-go-tool.sh MODULE VERSION PACKAGE OUT
#   observability/build-go-tool.sh github.com/grafana/loki/v3 v3.7.8 ./cmd/loki ~/.cache/.../loki
set -euo pipefail
module=$1 version=$2 pkg=$3 out=$4
go=${GO:-go}
name=$(basename "$out")

dir=$("$go" mod download -json "$module@$version" | sed -nE 's/^\s*"Dir": "(.*)",?$/\1/p')
[[ -n "$dir" && -d "$dir" ]] || { echo "build-go-tool: could not download $module@$version" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/$name-src.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
# Relative-path replaces point into the module's own tree, which `go build` in the copy resolves;
# Loki's for pkg/push must go (the published module does not contain a go.mod there that matches).
sed -i '/^replace github.com\/grafana\/loki\/pkg\/push => /d' "$work/go.mod"

mkdir -p "$(dirname "$out")"
echo "build-go-tool: building $name $version (several minutes the first time)"
(cd "$work" && CGO_ENABLED=0 GOFLAGS=-mod=mod "$go" build -trimpath -o "$out.tmp" "$pkg")
mv "$out.tmp" "$out"
echo "build-go-tool: $out"
