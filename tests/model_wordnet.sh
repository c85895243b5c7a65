#!/bin/sh
# WordNet at training time and spelling slips at query time (issue 10). A tiny model
# trained with --wordnet-senses 2 (the default of duch train):
#  - its vocabulary holds WordNet stand-ins of its caption words (trained embeddings:
#    "crimson" for "red"), and its file an alias table, built when it was trained;
#  - a misspelt or inflected word ("strpes", "checkerbaord") is read as the nearest
#    known word, alike by libtorch and the C text encoder (SQL), and
#    duch_text_explain reports it as mapped; a word far from all ("zebra") is ignored,
#    and so is a WordNet word near a known one ("bleu", blocked in the table);
#  - a WordNet noun of a visible kind that no closer relation claims is taken for the
#    vocabulary word its first sense or gloss names ("airfield" -> "field").
. "$top_srcdir/tests/sql_common.sh"
mk="$top_builddir/tests/index_mkarchive"
duch="$top_builddir/duch"
export DUCH_MODEL_LIB
[ -f "$DUCH_MODEL_LIB" ] || { echo "SKIP: no model library at $DUCH_MODEL_LIB"; exit 77; }
"$mk" train "$TMP/wn" 2 > "$TMP/train.log" 2>&1 || { echo "FAIL: training with WordNet" >&2; cat "$TMP/train.log" >&2; exit 1; }
m="$TMP/wn/tiny.duchm"
"$duch" info --vocabulary "$m" > "$TMP/vocab" || fail "duch info --vocabulary"
for w in red stripes checkerboard crimson scarlet lakes; do
    grep -qx "$w" "$TMP/vocab" || fail "'$w' is not in the vocabulary: $(tr '\n' ' ' < "$TMP/vocab")"
done
n=$(wc -l < "$TMP/vocab")
[ "$n" -gt 40 ] || fail "only $n words: the captions' 19 and few stand-ins"
# the header says which words are the captions' (18 here; the rest are stand-ins)
grep -a -q '"caption_words":18[,}]' "$m" || fail "the header lacks caption_words 18"
"$duch" info "$m" > "$TMP/info" || fail "duch info"
grep -q '"wordnet_senses":2' "$TMP/info" || fail "the training record lacks wordnet_senses"
al=$(sed -n 's/^words .* known, \([0-9]*\) aliases.*/\1/p' "$TMP/info")
[ -n "$al" ] && [ "$al" -gt 50 ] || fail "alias table: '$al' ($(grep '^words' "$TMP/info"))"
"$mk" create "$TMP/a.sqlite" 12 - "$m" || { echo "FAIL: archive" >&2; exit 1; }
same() { # TEXT1 TEXT2: the same code from libtorch and from the C encoder
    t1=$("$mk" textcode "$m" "$1"); t2=$("$mk" textcode "$m" "$2")
    [ -n "$t1" ] && [ "$t1" = "$t2" ] || fail "libtorch: '$1' gives '$t1', '$2' '$t2'"
    c1=$(printf "SELECT hex(duch_text_code('%s'));\n" "$1" | sql "$TMP/a.sqlite")
    [ "$c1" = "$t1" ] || fail "C encoder: '$1' gives '$c1', libtorch '$t1'"
}
same "red strpes" "red stripes"
same "checkerbaord" "checkerboard"
same "grren checkerboard" "green checkerboard"
# "bleu" is a word of its own in WordNet (blue cheese): blocked, not taken for "blue"
e=$(printf "SELECT duch_text_explain('a bluu lakke bleu zebra');\n" | sql "$TMP/a.sqlite")
[ "$e" = '{"used": ["a", "blue", "lake"], "mapped": {"bluu": "blue", "lakke": "lake"}, "ignored": ["bleu", "zebra"]}' ] ||
    fail "explain: $e"
# words WordNet relates only through their first sense's gloss or pointers (pass 6 of
# the alias table): "airfield" (a place where planes take off) is taken for "field";
# a proper name ("algeria") and a person ("hatter") are not taken for anything
e=$(printf "SELECT duch_text_explain('airfield algeria hatter');\n" | sql "$TMP/a.sqlite")
[ "$e" = '{"used": ["field"], "mapped": {"airfield": "field"}, "ignored": ["algeria", "hatter"]}' ] ||
    fail "explain (gloss and pointers): $e"
[ "$("$mk" textcode "$m" "airfield")" = "$("$mk" textcode "$m" "field")" ] ||
    fail "libtorch does not take 'airfield' for 'field'"
[ "$("$mk" textcode "$m" "red bleu stripes")" = "$("$mk" textcode "$m" "red stripes")" ] ||
    fail "libtorch does not ignore the blocked 'bleu'"
out=$("$mk" textcode "$m" "zebra" 2>&1) && fail "'zebra' was encoded"
echo "$out" | grep -q "aliases; duch info --vocabulary lists them" || fail "message: $out"
[ "$FAILS" -eq 0 ] && echo "ok: WordNet stand-ins, alias table and spelling slips, libtorch = C encoder"
[ "$FAILS" -eq 0 ]
