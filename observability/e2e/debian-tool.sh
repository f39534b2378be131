#!/usr/bin/env bash
# Puts the binary of a Debian package into the tools cache (make tools), without installing the
# package: installing would start its service. Used for the PostgreSQL and Redis exporters, whose
# current Go modules cannot be fetched here, and for nginx (the edge cache). The package is
# downloaded with apt (at exactly VERSION) and unpacked in a temp dir; only /usr/bin/BINARY or
# /usr/sbin/BINARY is kept, as OUT (its shared libraries must be on the machine already: nginx's
# are libc, libcrypt, PCRE2, OpenSSL and zlib).
#
#   observability/e2e/debian-tool.sh PACKAGE VERSION OUT
#   observability/e2e/debian-tool.sh prometheus-redis-exporter 1.45.0-2+b4 ~/.cache/.../prometheus-redis-exporter
#   observability/e2e/debian-tool.sh nginx 1.22.1-9+deb12u11 ~/.cache/.../nginx
set -euo pipefail
pkg=$1 version=$2 out=$3
name=$(basename "$out")

work=$(mktemp -d "${TMPDIR:-/tmp}/$name-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download -q "$pkg=$version" >/dev/null 2>&1); then
	echo "debian-tool: $pkg=$version not in the apt lists; running apt-get update" >&2
	apt-get update -qq
	(cd "$work" && apt-get download -q "$pkg=$version")
fi
dpkg-deb -x "$work"/"${pkg}"_*.deb "$work/root"
bin=
for dir in usr/bin usr/sbin; do
	if [[ -x "$work/root/$dir/$name" ]]; then bin="$work/root/$dir/$name"; break; fi
done
[[ -n "$bin" ]] || { echo "debian-tool: $pkg has no /usr/bin/$name nor /usr/sbin/$name" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
cp "$bin" "$out.tmp"
mv "$out.tmp" "$out"
echo "debian-tool: $out"
