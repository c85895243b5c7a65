#!/bin/sh
# Aliases in the model file (issue 10, groundwork): a word outside the vocabulary that the
# header's "aliases" maps to a vocabulary word gives exactly that word's code, in the C
# text encoder (SQL, duch query) and in libtorch alike; duch_text_explain reports it as
# mapped; an alias that stands for no vocabulary word is refused by both readers.
. "$top_srcdir/tests/sql_common.sh"
mk="$top_builddir/tests/index_mkarchive"
export DUCH_MODEL_LIB
[ -f "$DUCH_MODEL_LIB" ] || { echo "SKIP: no model library at $DUCH_MODEL_LIB"; exit 77; }
py=/usr/bin/python3; [ -x "$py" ] || py=python3
"$mk" train "$TMP/tiny" > "$TMP/train.log" 2>&1 || { echo "FAIL: training the tiny model" >&2; cat "$TMP/train.log" >&2; exit 1; }
"$py" "$top_srcdir/tests/model_aliases.py" "$TMP/tiny/tiny.duchm" "$TMP/al.duchm" \
    '{"crimson": "red", "scarlet": "red", "vermilion": "red", "stripe": "stripes"}' || { echo "FAIL: writing aliases" >&2; exit 1; }
a="$TMP/a.sqlite"
"$mk" create "$a" 30 - "$TMP/al.duchm" || { echo "FAIL: archive with the aliased model" >&2; exit 1; }
# as_code TEXT WORDS: TEXT through the aliased model gives the tiny model's code of WORDS,
# in libtorch and in the C encoder (SQL)
as_code() {
    want=$("$mk" textcode "$TMP/tiny/tiny.duchm" "$2")
    torch=$("$mk" textcode "$TMP/al.duchm" "$1")
    c=$(printf "SELECT hex(duch_text_code('%s'));\n" "$1" | sql "$a")
    [ -n "$want" ] && [ "$torch" = "$want" ] && [ "$c" = "$want" ] ||
        fail "'$1': libtorch gives $torch, C $c; '$2' $want"
}
as_code "crimson stripe" "red stripes"
e=$(printf "SELECT duch_text_explain('Scarlet zebra stripes');\n" | sql "$a")
[ "$e" = '{"used": ["red", "stripes"], "mapped": {"scarlet": "red"}, "ignored": ["zebra"]}' ] ||
    fail "explain: $e"
n=$(printf "SELECT count(*) FROM duch_knn('crimson stripe', 5) k JOIN duch_knn('red stripes', 5) r USING (tile_id);\n" | sql "$a")
[ "$n" = 5 ] || fail "duch_knn of an alias and of its word differ ($n of 5 shared)"
# a long word one edit from an alias is a slip of it ("vermillion" -> "vermilion" -> "red"),
# in both readers; a shorter one is not ("scarlett" is no "scarlet": ignored)
as_code "vermillion stripe" "red stripes"
e=$(printf "SELECT duch_text_explain('vermillion scarlett stripe');\n" | sql "$a")
[ "$e" = '{"used": ["red", "stripes"], "mapped": {"vermillion": "red", "stripe": "stripes"}, "ignored": ["scarlett"]}' ] ||
    fail "explain of a slip of an alias: $e"
as_code "scarlett stripe" "stripes"
# an alias of a word the model does not know: both readers refuse the file
"$py" "$top_srcdir/tests/model_aliases.py" "$TMP/tiny/tiny.duchm" "$TMP/bad.duchm" '{"crimson": "purple"}'
out=$("$mk" textcode "$TMP/bad.duchm" "red" 2>&1) && fail "libtorch opened a model whose alias stands for nothing"
echo "$out" | grep -q "alias 'crimson' stands for 'purple', which is not in the vocabulary" || fail "libtorch message: $out"
cp "$a" "$TMP/b.sqlite"
printf "UPDATE duch_model SET data = readfile('%s');\n" "$TMP/bad.duchm" | sqlite3 "$TMP/b.sqlite"
out=$(printf "SELECT duch_text_code('red');\n" | sql "$TMP/b.sqlite" 2>&1)
echo "$out" | grep -q "alias 'crimson' stands for 'purple', which is not in the vocabulary" || fail "C encoder message: $out"
[ "$FAILS" -eq 0 ] && echo "ok: aliases in the model file, C encoder = libtorch"
[ "$FAILS" -eq 0 ]
