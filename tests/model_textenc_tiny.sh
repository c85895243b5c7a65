#!/bin/sh
# model_textenc_tiny: the C text encoder against libtorch (tests/model_textenc) on a tiny
# model trained here (16 bits, text_dim 8: other shapes than the shipped model), with
# texts made from its own captions.
set -u
: "${top_builddir:?}"
if [ ! -f "${DUCH_MODEL_LIB:-}" ]; then
    echo "SKIP: no model library at ${DUCH_MODEL_LIB:-(unset)}"
    exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$top_builddir/tests/index_mkarchive" train "$tmp/tiny" > "$tmp/train.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: the model library does not load"; exit 77; }
[ $rc -eq 0 ] || { echo "FAIL: training the tiny model" >&2; cat "$tmp/train.log" >&2; exit 1; }
exec "$top_builddir/tests/model_textenc" "$tmp/tiny/tiny.duchm" "$tmp/tiny/captions.json"
