#!/bin/sh
# sql_text: text and image queries with the model stored in an archive (a tiny model
# trained here in a few seconds): duch_text_code, duch_knn('text', k [, box]),
# duch_image_code, and their errors (no model library, a damaged or mismatched model,
# unknown words, a window off the raster). Texts use the C text encoder, images libtorch.
. "$top_srcdir/tests/sql_common.sh"
mk="$top_builddir/tests/index_mkarchive"
export DUCH_MODEL_LIB DUCH_LIB
DUCH_LIB="$top_builddir/.libs/libduch.so.0"
if [ ! -f "$DUCH_MODEL_LIB" ]; then
    echo "SKIP: no model library at $DUCH_MODEL_LIB"
    exit 77
fi
"$mk" train "$TMP/tiny" > "$TMP/train.log" 2>&1
rc=$?
[ $rc -eq 77 ] && { echo "SKIP: the model library does not load"; cat "$TMP/train.log"; exit 77; }
[ $rc -eq 0 ] || { echo "FAIL: training the tiny model" >&2; cat "$TMP/train.log" >&2; exit 1; }
model="$TMP/tiny/tiny.duchm"
a="$TMP/archive.sqlite"
"$mk" create "$a" 60 - "$model" || { echo "FAIL: archive with a model" >&2; exit 1; }

# check NAME SQL EXPECTED-OUTPUT
check() {
    printf '%s\n' "$2" | sql "$a" > "$TMP/out" 2>&1
    printf '%s\n' "$3" > "$TMP/want"
    if cmp -s "$TMP/out" "$TMP/want"; then
        echo "ok: $1"
    else
        fail "$1"
        echo "--- want" >&2; cat "$TMP/want" >&2; echo "--- got" >&2; cat "$TMP/out" >&2
    fi
}
# check_error NAME SQL MESSAGE-PART [DB]
check_error() {
    printf '%s\n' "$2" | sql "${4:-$a}" > "$TMP/out" 2>&1
    rc=$?
    if [ $rc -lt 128 ] && grep -qF -- "$3" "$TMP/out"; then
        echo "ok: $1"
    else
        fail "$1: want an error with '$3' (exit $rc)"
        cat "$TMP/out" >&2
    fi
}

code=$("$mk" textcode "$model" "red stripes")
check "duch_text_code is the model's code of the text" \
    "SELECT hex(duch_text_code('red stripes')), length(duch_text_code('red stripes'));" "$code|2"
check "duch_text_code: NULL in, NULL out" "SELECT duch_text_code(NULL) IS NULL;" "1"
check "duch_text_explain says which words were used and which ignored" \
    "SELECT duch_text_explain('Red ZEBRA stripes, zebra!');" \
    '{"used": ["red", "stripes"], "mapped": {}, "ignored": ["zebra", "zebra"]}'
check "duch_text_explain of a text with no known word" \
    "SELECT duch_text_explain('zebra');" '{"used": [], "mapped": {}, "ignored": ["zebra"]}'
check "duch_text_explain: NULL in, NULL out" "SELECT duch_text_explain(NULL) IS NULL;" "1"
check_error "duch_text_explain of a number" "SELECT duch_text_explain(3);" \
    "duch_text_explain: the argument must be TEXT"
for text in "red stripes" "blue water" "a green checkerboard"; do
    for k in 1 7 60; do
        check "duch_knn('$text', $k) = brute force" \
            "SELECT count(*) FROM (SELECT tile_id, distance FROM duch_knn('$text', $k)
               EXCEPT SELECT * FROM (SELECT tile_id, duch_hamming(code, duch_text_code('$text')) AS d
                                     FROM tiles ORDER BY d, tile_id LIMIT $k));
             SELECT count(*) = min($k, 60) FROM duch_knn('$text', $k);" "0
1"
    done
done
check "duch_knn text with a box, joined with scenes" \
    "SELECT count(*), min(s.path), max(s.path) FROM duch_knn('blue water', 100, 10.0, 50.0, 10.095, 50.009) k
       JOIN tiles t USING (tile_id) JOIN scenes s USING (scene_id);" "10|/data/scene_A.tif|/data/scene_A.tif"
check "text and code queries agree" \
    "SELECT (SELECT group_concat(tile_id) FROM duch_knn('blue water', 9)) =
            (SELECT group_concat(tile_id) FROM duch_knn(duch_text_code('blue water'), 9));" "1"

# errors
check_error "unknown words" "SELECT * FROM duch_knn('qwerty zzz', 3);" "vocabulary"
check_error "empty text" "SELECT duch_text_code('');" "duch_text_code: the text query is empty"
check_error "k out of range with a text" "SELECT * FROM duch_knn('blue water', 0);" "k must be between 1 and"
cp "$a" "$TMP/other.sqlite"
sqlite3 "$TMP/other.sqlite" "UPDATE duch_model SET model_id = 'feedfacefeedface'"
check_error "a model that does not match its record" "SELECT * FROM duch_knn('blue water', 3);" \
    "duch_knn: the archive's model does not match its record" "$TMP/other.sqlite"
sqlite3 "$TMP/other.sqlite" "UPDATE duch_model SET data = x'0011223344'"
check_error "a damaged model" "SELECT duch_text_code('blue water');" \
    "duch_text_code: the archive's model feedfacefeedface cannot be opened" "$TMP/other.sqlite"
sqlite3 "$TMP/other.sqlite" "DELETE FROM duch_model"
check_error "no model" "SELECT duch_text_code('blue water');" "the archive holds no model" "$TMP/other.sqlite"
saved=$DUCH_MODEL_LIB
DUCH_MODEL_LIB="$TMP/no_such_libduch_model.so"
# texts go through the C text encoder: no model library needed; images still need it
check "a missing model library: a text query works without it" \
    "SELECT count(*) FROM duch_knn('blue water', 3);" "3"
check_error "a missing model library: an image query" \
    "SELECT duch_image_code('$TMP/tiny/images/2.jpg');" \
    "duch_image_code: cannot load the duch model library"
DUCH_MODEL_LIB=$saved

# query by example
if [ -f "$DUCH_LIB" ]; then
    img="$TMP/tiny/images/2.jpg"
    check "duch_image_code: a code, the same twice, usable in duch_knn" \
        "SELECT length(duch_image_code('$img')), duch_image_code('$img') = duch_image_code('$img', 0, 0, 32, 32);
         SELECT count(*) FROM duch_knn(duch_image_code('$img', 8, 8, 16, 16), 4);" "2|1
4"
    check_error "a window off the raster" "SELECT duch_image_code('$img', 30, 0, 16, 16);" \
        "duch_image_code: window 30,0 16x16 is not inside the raster"
    check_error "a missing image" "SELECT duch_image_code('$TMP/none.tif');" "duch_image_code:"
    DUCH_LIB="$TMP/no_libduch.so"
    check_error "a missing libduch" "SELECT duch_image_code('$img');" "duch_image_code: cannot load libduch"
else
    echo "no $DUCH_LIB: duch_image_code not checked"
fi

# GDAL with the extension: a text query
if command -v ogrinfo >/dev/null 2>&1; then
    OGR_SQLITE_LOAD_EXTENSIONS="$EXT.so" ogrinfo -ro "$a" -sql \
        "SELECT count(*) AS n FROM duch_knn('blue water', 5)" > "$TMP/ogr" 2>&1
    grep -q 'n (Integer) = 5' "$TMP/ogr" || { fail "text query through GDAL"; cat "$TMP/ogr" >&2; }
fi
[ "$FAILS" -eq 0 ]
