#!/bin/sh
# model_encode.sh: encode throughput of the shipped model's image branch, and its
# training wall time.
#
# Scope: tiles/s of api->encode_images on 256x256 RGB tiles with THREADS threads (default
# 2, the target machine's cores) against the named baseline of 1 thread, alternating
# rounds (see bench/model_encode.c); then the training wall time recorded in the model
# file (duch info --json, "wall_s") and the command that trained it (docs/model.md).
#
#   sh bench/model_encode.sh [BUILDDIR] [MODEL] [THREADS] [NTILES] [ROUNDS]
set -eu
builddir=$(cd "${1:-.}" && pwd)
srcdir=$(cd "$(dirname "$0")/.." && pwd)
model=${2:-$srcdir/model/default.duchm}
threads=${3:-2}
[ -f "$model" ] || { echo "no model $model" >&2; exit 1; }
[ -x "$builddir/bench/model_encode" ] || { echo "build first: make bench/model_encode" >&2; exit 1; }
export DUCH_MODEL_LIB="${DUCH_MODEL_LIB:-$builddir/.libs/libduch_model.so}"
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
"$builddir/bench/model_encode" "$model" "$threads" "${4:-256}" "${5:-5}"
wall=$("$builddir/duch" info --json "$model" | sed -n 's/.*"wall_s":\([0-9.]*\).*/\1/p')
echo "training wall time recorded in the model: ${wall:-?} s"
