#!/bin/sh
# What the model understood of a text query (issue 10): duch info --vocabulary lists the
# model's words; duch query says on stderr which words of the query it mapped (a spelling
# slip, an alias of the shipped model's WordNet table) and which it ignored (-q silences
# it); the DUCH: layer carries the same as QUERY_WORDS.
set -u
: "${top_builddir:?}" "${GDAL_DRIVER_PATH:?}"
duch="$top_builddir/duch"
model=${DUCH_DEFAULT_MODEL:-}
[ -n "$model" ] && [ -f "$model" ] || { echo "SKIP: no model at '$model'"; exit 77; }
export GDAL_DRIVER_PATH DUCH_QUIET=1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

"$duch" info --vocabulary "$model" > "$tmp/words" || bad "info --vocabulary"
n=$(wc -l < "$tmp/words")
want=$("$duch" info --json "$model" | sed -n 's/.*"vocab_size":\([0-9]*\).*/\1/p')
[ -n "$want" ] && [ "$n" = "$want" ] || bad "--vocabulary printed $n words, the model has '$want'"
grep -qx "residential" "$tmp/words" || bad "'residential' is not in the listed vocabulary"
if grep -qx "qwzx" "$tmp/words"; then bad "'qwzx' is listed"; fi
grep -qx "residentail" "$tmp/words" && bad "'residentail' is listed (the test takes it for a slip)"

gdal_create -q -of GTiff -outsize 512 512 -bands 3 -ot Byte -burn 90 -burn 140 -burn 80 \
    -a_srs EPSG:32610 -a_ullr 500000 4200000 500154 4199846 "$tmp/s.tif" || { echo "FAIL: gdal_create"; exit 1; }
a="$tmp/a.sqlite"
"$duch" index -q --model "$model" "$a" "$tmp/s.tif" || { echo "FAIL: index"; exit 1; }
"$duch" info --vocabulary "$a" > "$tmp/awords" || bad "info --vocabulary ARCHIVE"
cmp -s "$tmp/words" "$tmp/awords" || bad "the archive's vocabulary differs from its model's"

"$duch" query "$a" "a qwzx with dense trees" -k 2 > "$tmp/out" 2> "$tmp/err" || bad "query failed"
grep -q "the model ignored qwzx (not among its $want words); it searched for: a, with, dense, trees" "$tmp/err" ||
    { bad "no line about ignored words"; cat "$tmp/err"; }
"$duch" query "$a" "a qwzx residentail area" -k 2 > /dev/null 2> "$tmp/err4" || bad "query failed"
grep -q "the model read residentail -> residential; it ignored qwzx (not among its $want words); it searched for: a, residential, area" "$tmp/err4" ||
    { bad "no line about mapped and ignored words"; cat "$tmp/err4"; }
"$duch" query -q "$a" "a qwzx with dense trees" -k 2 > "$tmp/out2" 2> "$tmp/err2" || bad "query -q failed"
[ ! -s "$tmp/err2" ] || { bad "-q still printed"; cat "$tmp/err2"; }
cmp -s "$tmp/out" "$tmp/out2" || bad "-q changed the hits"
"$duch" query "$a" "dense residential trees" -k 2 > /dev/null 2> "$tmp/err3" || bad "query failed"
# (the only line allowed is the one about the confidence of the best hit)
[ -z "$(grep -v "^duch: no good match: " "$tmp/err3")" ] || { bad "a query of known words printed: $(cat "$tmp/err3")"; }

ogrinfo -ro -so "DUCH:$a" -oo QUERY="qwzx prak" > "$tmp/ogr" 2>&1 || bad "ogrinfo DUCH:"
grep -q 'QUERY_WORDS={"used": \["park"\], "mapped": {"prak": "park"}, "ignored": \["qwzx"\]}' "$tmp/ogr" ||
    { bad "no QUERY_WORDS metadata"; cat "$tmp/ogr"; }
[ $fail = 0 ] && echo "ok: vocabulary, mapped and ignored words on stderr, -q, QUERY_WORDS"
exit $fail
