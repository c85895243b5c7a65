#!/bin/sh
# sql_utf8: texts that C strings would get wrong, on an archive holding the shipped
# default model: a text with a NUL character inside is an error (it used to be cut
# there and answered as the part before the NUL), and an error message that quotes
# the start of a long non-ASCII text is still valid UTF-8 (it used to be cut in the
# middle of a character).
. "$top_srcdir/tests/sql_common.sh"
: "${DUCH_DEFAULT_MODEL:?}"
mk="$top_builddir/tests/index_mkarchive"
export DUCH_MODEL_LIB
if [ ! -f "$DUCH_MODEL_LIB" ] || [ ! -f "$DUCH_DEFAULT_MODEL" ]; then
    echo "SKIP: no model library or no default model"
    exit 77
fi
a="$TMP/archive.sqlite"
"$mk" create "$a" 12 - "$DUCH_DEFAULT_MODEL" > "$TMP/mk.log" 2>&1 ||
    { cat "$TMP/mk.log" >&2; echo "FAIL: archive with the default model" >&2; exit 1; }

# the text 'river' followed by a NUL and 'xyz' (and one that starts with a NUL)
river=$(printf '%s\n' "SELECT hex(duch_text_code('river'));" | sql "$a")
[ -n "$river" ] || fail "duch_text_code('river') gives no code"
for q in "x'72697665720078797a'|5 of 9" "x'0072697665'|0 of 5"; do
    hexq=${q%%|*} at=${q#*|}
    printf '%s\n' "SELECT hex(duch_text_code(CAST($hexq AS TEXT)));" | sql "$a" > "$TMP/out" 2>&1
    if grep -qF "duch_text_code: the text contains a NUL character (at byte $at)" "$TMP/out"; then
        echo "ok: duch_text_code($hexq) is refused"
    else
        fail "duch_text_code($hexq): want the NUL error"; cat "$TMP/out" >&2
    fi
    printf '%s\n' "SELECT count(*) FROM duch_knn(CAST($hexq AS TEXT), 5);" | sql "$a" > "$TMP/out" 2>&1
    if grep -qF "duch_knn: the text query contains a NUL character (at byte $at)" "$TMP/out"; then
        echo "ok: duch_knn($hexq) is refused"
    else
        fail "duch_knn($hexq): want the NUL error"; cat "$TMP/out" >&2
    fi
done
# the same bytes as a BLOB stay a code-length error, a plain text still works
printf '%s\n' "SELECT count(*) FROM duch_knn('river', 5);" | sql "$a" > "$TMP/out" 2>&1
[ "$(cat "$TMP/out")" = 5 ] || { fail "duch_knn('river', 5)"; cat "$TMP/out" >&2; }

# a long text in Cyrillic without a known word: the message quotes its start
zh=$(python3 -c 'print("\u0436" * 80)')
printf '%s\n' "SELECT duch_text_code('$zh');" | sql "$a" > "$TMP/out" 2>&1
if ! grep -q "vocabulary" "$TMP/out"; then
    fail "long unknown text: no vocabulary error"; cat "$TMP/out" >&2
elif python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$TMP/out" 2> "$TMP/py"; then
    echo "ok: the message about a long non-ASCII text is valid UTF-8"
else
    fail "the message about a long non-ASCII text is not valid UTF-8"; cat "$TMP/py" >&2
    od -c "$TMP/out" | head -8 >&2
fi
[ "$FAILS" -eq 0 ] || exit 1
