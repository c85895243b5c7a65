#!/bin/sh
# duch aliases (issue 10, first means): a copy of a model with a WordNet alias table; a
# WordNet synonym of a vocabulary word then gives that word's code in both encoders, and
# duch_text_explain reports it as mapped; a model that has a table already gets it rebuilt.
. "$top_srcdir/tests/sql_common.sh"
mk="$top_builddir/tests/index_mkarchive"
duch="$top_builddir/duch"
export DUCH_MODEL_LIB
[ -f "$DUCH_MODEL_LIB" ] || { echo "SKIP: no model library at $DUCH_MODEL_LIB"; exit 77; }
"$mk" train "$TMP/tiny" > "$TMP/train.log" 2>&1 || { echo "FAIL: training the tiny model" >&2; exit 1; }
"$duch" aliases -v "$TMP/tiny/tiny.duchm" -o "$TMP/al.duchm" > "$TMP/list" 2> "$TMP/err" ||
    { fail "duch aliases: $(cat "$TMP/err")"; }
grep -q "aliases from WordNet" "$TMP/err" || fail "no summary: $(cat "$TMP/err")"
grep -qx "crimson -> red" "$TMP/list" || fail "WordNet's 'crimson' is not an alias of 'red': $(head -5 "$TMP/list")"
if grep -q -- "-> \(zebra\|purple\)$" "$TMP/list"; then fail "an alias stands for a word outside the vocabulary"; fi
want=$("$mk" textcode "$TMP/tiny/tiny.duchm" "red stripes")
[ "$("$mk" textcode "$TMP/al.duchm" "crimson stripes")" = "$want" ] || fail "libtorch: crimson is not read as red"
"$mk" create "$TMP/a.sqlite" 12 - "$TMP/al.duchm" || { echo "FAIL: archive" >&2; exit 1; }
[ "$(printf "SELECT hex(duch_text_code('crimson stripes'));\n" | sql "$TMP/a.sqlite")" = "$want" ] ||
    fail "C encoder: crimson is not read as red"
e=$(printf "SELECT duch_text_explain('crimson stripes');\n" | sql "$TMP/a.sqlite")
echo "$e" | grep -q '"mapped": {"crimson": "red"}' || fail "explain: $e"
# a model with a table: the table is rebuilt, replacing the old one (one table, the same
# words: the same file, so the same id)
"$duch" aliases "$TMP/al.duchm" -o "$TMP/al2.duchm" 2> "$TMP/err2" || fail "rebuilding the table: $(cat "$TMP/err2")"
cmp -s "$TMP/al.duchm" "$TMP/al2.duchm" || fail "a rebuilt table differs from the first"
[ "$(grep -a -c '"aliases":' "$TMP/al2.duchm")" = 1 ] || fail "the rebuilt model has more than one table"
[ "$("$mk" textcode "$TMP/al2.duchm" "crimson stripes")" = "$want" ] || fail "rebuilt table: crimson is not read as red"
"$duch" aliases "$TMP/tiny/tiny.duchm" 2>/dev/null; [ $? = 2 ] || fail "no -o: not a usage error"
# -o a pipe (or /dev/null, /dev/stdout): written to, never replaced by a file
mkfifo "$TMP/fifo"
timeout 60 cat "$TMP/fifo" > "$TMP/from_fifo" &
"$duch" aliases "$TMP/al.duchm" -o "$TMP/fifo" 2>/dev/null || fail "-o a pipe: $?"
wait
[ -p "$TMP/fifo" ] || fail "-o a pipe replaced it with a file"
cmp -s "$TMP/from_fifo" "$TMP/al2.duchm" || fail "-o a pipe: not the model's bytes"
timeout 60 cat "$TMP/fifo" > "$TMP/from_fifo2" &
"$mk" create "$TMP/q.sqlite" 12 - "$TMP/al.duchm" || fail "archive for the pipe"
"$duch" query -q "$TMP/q.sqlite" "crimson stripes" -k 3 --format csv -o "$TMP/fifo" || fail "query -o a pipe"
wait
[ -p "$TMP/fifo" ] || fail "query -o a pipe replaced it with a file"
[ "$(wc -l < "$TMP/from_fifo2")" = 4 ] || fail "query -o a pipe: $(cat "$TMP/from_fifo2")"
[ "$FAILS" -eq 0 ] && echo "ok: duch aliases (WordNet) read alike by both encoders"
[ "$FAILS" -eq 0 ]
