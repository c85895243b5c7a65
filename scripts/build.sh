#!/bin/sh
# Configure and build duch out of tree in ./build (BUILD_DIR overrides).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null
mkdir -p "$build"
cd "$build"
[ -f Makefile ] || "$top/configure" -q --prefix="$build/install" ${DUCH_CONFIGURE_FLAGS:-}
make -j"$(nproc)" >/dev/null
echo "$build"
