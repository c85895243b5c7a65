#!/bin/sh
# Configure and build duch out of tree in ./build (BUILD_DIR overrides), for installing
# into /usr/local (DUCH_PREFIX overrides; see the README's "Build by hand").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" -q --prefix="${DUCH_PREFIX:-/usr/local}" ${DUCH_CONFIGURE_FLAGS:-}
make -j"$(nproc)" >/dev/null
echo "$build"
