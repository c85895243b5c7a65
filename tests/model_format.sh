#!/bin/sh
# model_format: the .duchm file format in both readers.
#  - a model trained now is format version 2 and ends with the standard FNV-1a 64 of
#    every byte before it (checked here with an independent Python FNV-1a);
#  - a format version 1 file (old offset basis; the shipped default was one until
#    issue 10: a copy of the tiny model written so here) still loads in both readers,
#    with its id unchanged; the shipped default loads too;
#  - NaN or Inf in a weight is refused by both readers (tests/model_format) and by
#    duch info, with the tensor's name;
#  - duch train --bits 8 (codes duch index would refuse) is refused before training.
set -u
: "${top_builddir:?}" "${DUCH_DEFAULT_MODEL:?}"
if [ ! -f "${DUCH_MODEL_LIB:-}" ]; then
    echo "SKIP: no model library at ${DUCH_MODEL_LIB:-(unset)}"
    exit 77
fi
fail() { echo "FAIL: $*" >&2; exit 1; }
duch="$top_builddir/duch"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$top_builddir/tests/index_mkarchive" train "$tmp/tiny" > "$tmp/train.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: the model library does not load"; exit 77; }
[ $rc -eq 0 ] || { cat "$tmp/train.log" >&2; fail "training the tiny model"; }
tiny="$tmp/tiny/tiny.duchm"

# --- 1. the checksum of a new file: version 2, standard FNV-1a 64
python3 - "$tiny" <<'PY' || fail "new model file: not version 2 with a standard FNV-1a 64 checksum"
import struct, sys
def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h
# published test vectors
assert fnv1a64(b"") == 0xcbf29ce484222325
assert fnv1a64(b"a") == 0xaf63dc4c8601ec8c
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"DUCHMODL", d[:8]
ver, = struct.unpack("<I", d[8:12])
stored, = struct.unpack("<Q", d[-8:])
print("tiny model: format version %d, checksum %016x, FNV-1a 64 %016x" % (ver, stored, fnv1a64(d[:-8])))
assert ver == 2, ver
assert stored == fnv1a64(d[:-8])
PY
"$duch" info --json "$tiny" > "$tmp/info.json" || fail "duch info on the tiny model"
grep -q '"format_version":2' "$tmp/info.json" || fail "duch info: the new file is not format version 2"
id=$(python3 -c 'import struct,sys; print("%016x" % struct.unpack("<Q", open(sys.argv[1],"rb").read()[-8:]))' "$tiny")
grep -q "\"id\":\"$id\"" "$tmp/info.json" || fail "duch info: the id is not the stored checksum $id"

# --- 1 and 2 in both readers: the tiny (v2) model, a v1 copy of it, the shipped default
python3 - "$tiny" "$tmp/tiny_v1.duchm" <<'PY' || fail "writing a format version 1 copy"
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read()[:-8])
d[8:12] = struct.pack("<I", 1)
h = 1469598103934665603  # the format 1 offset basis, a digit short of the standard one
for b in d:
    h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
open(sys.argv[2], "wb").write(bytes(d) + struct.pack("<Q", h))
PY
mkdir "$tmp/v2" "$tmp/v1" "$tmp/shipped"
"$top_builddir/tests/model_format" "$tiny" "$tmp/v2" || fail "model_format on the tiny model"
"$top_builddir/tests/model_format" "$tmp/tiny_v1.duchm" "$tmp/v1" || fail "model_format on the v1 copy"
"$duch" info --json "$tmp/tiny_v1.duchm" > "$tmp/info1.json" || fail "duch info on the v1 copy"
grep -q '"format_version":1' "$tmp/info1.json" || fail "duch info: the v1 copy is not reported as format version 1"
id1=$(python3 -c 'import struct,sys; print("%016x" % struct.unpack("<Q", open(sys.argv[1],"rb").read()[-8:]))' "$tmp/tiny_v1.duchm")
grep -q "\"id\":\"$id1\"" "$tmp/info1.json" || fail "duch info: the v1 id is not its stored checksum $id1"
if [ -f "$DUCH_DEFAULT_MODEL" ]; then
    "$top_builddir/tests/model_format" "$DUCH_DEFAULT_MODEL" "$tmp/shipped" ||
        fail "model_format on the shipped model"
fi

# --- 2. duch info refuses non-finite weights, naming the tensor
for v in v2 v1; do
    [ -f "$tmp/$v/nan.duchm" ] || continue
    for bad in nan inf; do
        if "$duch" info "$tmp/$v/$bad.duchm" > "$tmp/out" 2> "$tmp/err"; then
            fail "duch info accepts a model with $bad weights ($v)"
        fi
        grep -q "txt.conv.weight" "$tmp/err" || { cat "$tmp/err" >&2; fail "duch info ($bad, $v): message does not name the tensor"; }
    done
    grep -q "NaN" "$tmp/err" && fail "inf model reported as NaN"
    sed 's/^/  /' "$tmp/err"
done

# --- 3. duch train --bits 8 is refused at once (duch index accepts 16..1024 bits)
opts="--data $tmp/tiny --epochs 1 --batch-size 12 --input-size 16 --width 4 --text-dim 8 --threads 1"
for b in 8 12 1032; do
    DUCH_QUIET=1 "$duch" train $opts --bits $b -o "$tmp/b$b.duchm" > /dev/null 2> "$tmp/err"
    rc=$?
    [ $rc -eq 2 ] || fail "duch train --bits $b: exit $rc, expected 2 (usage error)"
    grep -q -- "--bits" "$tmp/err" && grep -q "16" "$tmp/err" ||
        { cat "$tmp/err" >&2; fail "duch train --bits $b: message does not give the range"; }
    [ -e "$tmp/b$b.duchm" ] && fail "duch train --bits $b wrote a model"
done
# the smallest valid length still trains
DUCH_QUIET=1 "$duch" train $opts --bits 16 -o "$tmp/b16.duchm" 2> "$tmp/err" ||
    { cat "$tmp/err" >&2; fail "duch train --bits 16"; }
echo "ok: model format version 2, standard FNV-1a 64, v1 still read, non-finite weights and --bits 8 refused"
