#!/usr/bin/env bash
# Puts the binary of a Debian package into the tools cache (make tools), without installing the
# package: installing would start its service. Used for the PostgreSQL and Redis exporters, whose
# current Go modules cannot be fetched here, and for nginx (the edge cache). The package is
# downloaded with apt and unpacked in a temp dir; only /usr/bin/BINARY or /usr/sbin/BINARY is
# kept, as OUT (its shared libraries must be on the machine already: nginx's are libc, libcrypt,
# PCRE2, OpenSSL and zlib).
#
# LIBS names library packages the binary needs and a fresh Debian lacks (wrk needs LuaJIT): their
# shared objects (usr/lib/**/*.so*) are unpacked into lib/ beside OUT, and their versions added to
# VERSION; run the binary with LD_LIBRARY_PATH=$(dirname OUT)/lib (check with ldd).
#
# The version is the archive's candidate (apt-cache policy PACKAGE), or VERSION when given: a
# pinned Debian version breaks at the next security update, which removes it from the archive.
# The version fetched is printed and written to VERSION beside OUT ("PACKAGE VERSION").
#
#   observability/e2e/debian-tool.sh PACKAGE OUT [VERSION]
#   observability/e2e/debian-tool.sh nginx ~/.cache/product-service-lab/tools/debian/nginx/nginx
#   observability/e2e/debian-tool.sh prometheus-redis-exporter ~/.cache/.../prometheus-redis-exporter 1.45.0-2+b4
#   LIBS=libluajit2-5.1-2 observability/e2e/debian-tool.sh wrk ~/.cache/product-service-lab/tools/debian/wrk/wrk
set -euo pipefail
pkg=$1 out=$2 version=${3:-}
name=$(basename "$out")
want=$pkg${version:+=$version}

read -ra libs <<<"${LIBS:-}"

work=$(mktemp -d "${TMPDIR:-/tmp}/$name-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Stale lists name a version the mirror no longer has: update them once and try again.
if ! (cd "$work" && apt-get download -q "$want" "${libs[@]}" >/dev/null 2>&1); then
	echo "debian-tool: $want ${libs[*]} not downloadable with the current apt lists; running apt-get update" >&2
	apt-get update -qq
	(cd "$work" && apt-get download -q "$want" "${libs[@]}")
fi
deb=$(ls "$work"/"${pkg}"_*.deb)
got=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$work/root"
versions="$pkg $got"
if ((${#libs[@]} > 0)); then
	rm -rf "$work/lib" && mkdir -p "$work/lib"
	for lib in "${libs[@]}"; do
		libdeb=$(ls "$work"/"${lib}"_*.deb)
		dpkg-deb -x "$libdeb" "$work/libroot"
		versions+=$'\n'"$lib $(dpkg-deb -f "$libdeb" Version)"
	done
	find "$work/libroot/usr/lib" -name '*.so*' \( -type f -o -type l \) -exec cp -P {} "$work/lib/" \;
fi
bin=
for dir in usr/bin usr/sbin; do
	if [[ -x "$work/root/$dir/$name" ]]; then bin="$work/root/$dir/$name"; break; fi
done
[[ -n "$bin" ]] || { echo "debian-tool: $pkg has no /usr/bin/$name nor /usr/sbin/$name" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
if ((${#libs[@]} > 0)); then
	rm -rf "$(dirname "$out")/lib"
	cp -a "$work/lib" "$(dirname "$out")/lib"
fi
cp "$bin" "$out.tmp"
echo "$versions" > "$(dirname "$out")/VERSION"
mv "$out.tmp" "$out"
echo "debian-tool: ${versions//$'\n'/, } -> $out"
