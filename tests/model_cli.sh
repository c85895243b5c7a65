#!/bin/sh
# model_cli: duch info / encode / eval with the shipped default model (skips when the
# model is absent); eval on ../shared/data/ucm when present.
set -u
: "${top_builddir:?}" "${DUCH_DEFAULT_MODEL:?}"
duch="$top_builddir/duch"
model="$DUCH_DEFAULT_MODEL"
[ -f "$model" ] || { echo "skip: no default model at $model"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$duch" info "$model" > "$tmp/info" || fail "duch info"
grep -q '^bits  *64' "$tmp/info" || fail "info: no bits line"
grep -q '^tile ground  *78.03 m' "$tmp/info" || fail "info: no tile ground line"
"$duch" info --json "$model" | grep -q '"format_version":[12],' || fail "info --json"

# text codes: one 16-hex-digit line per text, in order, deterministic
"$duch" encode --model "$model" --text "dense residential area" --text "a river" > "$tmp/t1" || fail "encode --text"
[ "$(wc -l < "$tmp/t1")" -eq 2 ] || fail "encode: expected 2 lines"
grep -qvE '^[0-9a-f]{16}$' "$tmp/t1" && fail "encode: not 16 hex digits per line"
"$duch" encode --model "$model" --text "a river" > "$tmp/t2"
[ "$(sed -n 2p "$tmp/t1")" = "$(cat "$tmp/t2")" ] || fail "encode: same text, different code"
# unknown words: an error that says so
if "$duch" encode --model "$model" --text "qwertyuiop" 2> "$tmp/err"; then fail "unknown word accepted"; fi
grep -q vocabulary "$tmp/err" || fail "unknown word: message does not say why"
# a long unknown text in Cyrillic: the message quotes its first 57 bytes, cut at a
# character boundary (valid UTF-8), not in the middle of a 2-byte character
zh=$(python3 -c 'print("\u0436" * 80)')
if "$duch" encode --model "$model" --text "$zh" 2> "$tmp/err"; then fail "unknown Cyrillic text accepted"; fi
grep -q vocabulary "$tmp/err" || fail "unknown Cyrillic text: message does not say why"
python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$tmp/err" ||
    fail "unknown Cyrillic text: the message is not valid UTF-8"
# usage errors
"$duch" encode --model "$model" > /dev/null 2>&1; [ $? -eq 2 ] || fail "encode without input: not a usage error"
"$duch" train --help | grep -q -- '--w-inter' || fail "train --help"

data="${DUCH_SHARED_DATA:-}/ucm"
if [ -f "$data/captions.json" ]; then
    "$duch" encode --model "$model" "$data/images/1.jpg" "$data/images/2.jpg" > "$tmp/i" || fail "encode images"
    [ "$(wc -l < "$tmp/i")" -eq 2 ] || fail "encode images: expected 2 lines"
    DUCH_QUIET=1 "$duch" eval --model "$model" --data "$data" --json > "$tmp/e.json" || fail "eval"
    cat "$tmp/e.json"
    python3 - "$tmp/e.json" <<'PY' || fail "eval: bad JSON or numbers"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["bits"] == 64 and d["queries"] == 96 and d["retrieval"] == 384, d
# the default model was trained on every split (unsupervised), so this is a sanity floor
assert d["map20_i2t"] > 0.3 and d["map20_t2i"] > 0.3, d
PY
fi
echo "ok: duch info/encode/eval with the default model"
