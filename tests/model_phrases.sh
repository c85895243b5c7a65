#!/bin/sh
# Phrases in the alias table (issue 10). The shipped model's table, built from WordNet
# and its training captions:
#  - a phrase key is read as a unit, the phrase of most words first: "car park" is
#    WordNet's synonym of the captions' "parking lot", not "car" + "park";
#  - a phrase target gives every word of it: "trailers" -> "mobile home";
#  - libtorch and the C text encoder (SQL) give the same code; duch_text_explain says
#    what was mapped;
#  - a closed compound of the captions ("farmland") claims its first part ("farm");
#  - a site is known by its parts ("airstrip" -> "runway"); WordNet's phrases whose head
#    is no caption word are keys ("landing strip"); a long word one edit from an alias
#    is a slip of it ("neighbourhod"); an adjective is read as the noun it pertains to
#    ("suburban" -> "residential area"); a caption word found only inside a phrase is read
#    alone as WordNet reads it ("homes" -> "houses");
#  - modifiers keep a quality or an activity, never a person or a thing ("navy" ->
#    "blue", no slur for "white"); a phrase's head keeps the phrase's sense; a rare
#    caption noun is read as a frequent one ("junction" -> "intersection"); known words
#    run together are split ("parkinglot" -> "parking lot");
#  - the header records the caption words, phrases, modifiers and rare words the table
#    was built with, and
#    duch aliases rebuilds the same table from them; --data checks the captions it is
#    given against the model's words.
. "$top_srcdir/tests/sql_common.sh"
mk="$top_builddir/tests/index_mkarchive"
duch="$top_builddir/duch"
py=/usr/bin/python3; [ -x "$py" ] || py=python3
export DUCH_MODEL_LIB
[ -f "$DUCH_MODEL_LIB" ] || { echo "SKIP: no model library at $DUCH_MODEL_LIB"; exit 77; }
m=${DUCH_DEFAULT_MODEL:-}
[ -n "$m" ] && [ -f "$m" ] || { echo "SKIP: no model at '$m' (DUCH_DEFAULT_MODEL)"; exit 77; }
"$mk" create "$TMP/a.sqlite" 12 - "$m" || { echo "FAIL: archive with the default model" >&2; exit 1; }
explain() { printf "SELECT duch_text_explain('%s');\n" "$1" | sql "$TMP/a.sqlite"; }
ccode() { printf "SELECT hex(duch_text_code('%s'));\n" "$1" | sql "$TMP/a.sqlite"; }
same() { # TEXT1 TEXT2: one code from libtorch for both, and the C encoder's is it
    t1=$("$mk" textcode "$m" "$1"); t2=$("$mk" textcode "$m" "$2")
    [ -n "$t1" ] && [ "$t1" = "$t2" ] || fail "libtorch: '$1' gives '$t1', '$2' '$t2'"
    c1=$(ccode "$1")
    [ "$c1" = "$t1" ] || fail "C encoder: '$1' gives '$c1', libtorch '$t1'"
}
e=$(explain 'a car park')
[ "$e" = '{"used": ["a", "parking", "lot"], "mapped": {"car park": "parking lot"}, "ignored": []}' ] ||
    fail "explain (phrase key): $e"
e=$(explain 'trailers')
[ "$e" = '{"used": ["mobile", "home"], "mapped": {"trailers": "mobile home"}, "ignored": []}' ] ||
    fail "explain (phrase target): $e"
# a caption word that is a closed compound claims its first part: "farm" -> "farmland",
# "crops" -> "cropland" (which WordNet lacks); not its head ("land" is a word of its own)
e=$(explain 'farm crops')
[ "$e" = '{"used": ["farmland", "cropland"], "mapped": {"farm": "farmland", "crops": "cropland"}, "ignored": []}' ] ||
    fail "explain (compounds): $e"
same "farms" "farmland"
same "a car park" "a parking lot"
same "Car-Parks" "parking lot"
same "trailers" "mobile home"
same "rows of trailers near a car park" "rows of mobile home near a parking lot"
# a site is known by its parts (WordNet's part meronyms): "airstrip" has part "runway";
# WordNet's own phrases are keys too when their head is no caption word: "landing strip"
# (a synonym of "airstrip"); not when it is: "tank farm" is "tank" + "farmland", as the
# model reads its captions, not its hypernym "area"
e=$(explain 'airstrips landing strip tank farm')
[ "$e" = '{"used": ["runway", "runway", "tank", "farmland"], "mapped": {"airstrips": "runway", "landing strip": "runway", "farm": "farmland"}, "ignored": []}' ] ||
    fail "explain (parts, WordNet phrases): $e"
same "landing strips" "runway"
# an adjective by the noun it pertains to (WordNet's pertainyms), as the table reads the
# noun: "suburban" -> "suburb" -> "residential area", "agricultural" -> "farming" -> "farm"
# -> "farmland"; not when the noun is no visible thing ("testicular" -> "testis")
e=$(explain 'suburban agricultural testicular')
[ "$e" = '{"used": ["residential", "area", "farmland"], "mapped": {"suburban": "residential area", "agricultural": "farmland"}, "ignored": ["testicular"]}' ] ||
    fail "explain (pertainyms): $e"
same "suburban" "residential area"
# a caption word bound to a phrase ("homes": every one in "mobile homes") alone is read as
# WordNet reads it ("houses"); inside its phrase it keeps its words
e=$(explain 'homes and a mobile home')
[ "$e" = '{"used": ["houses", "and", "a", "mobile", "home"], "mapped": {"homes": "houses"}, "ignored": []}' ] ||
    fail "explain (a word bound to a phrase): $e"
same "homes" "houses"
same "a mobile home park" "a mobile home park"
[ "$("$mk" textcode "$m" "mobile homes")" != "$("$mk" textcode "$m" "mobile houses")" ] ||
    fail "'mobile homes' read as 'mobile houses'"
# a long word one edit from an alias is a slip of it: "neighbourhod" -> "neighbourhood"
e=$(explain 'neighbourhod')
case $e in '{"used": ["'*'"], "mapped": {"neighbourhod": "'*) ;; *) fail "explain (slip of an alias): $e" ;; esac
same "neighbourhod" "neighbourhood"
# not a phrase: the words one by one
e=$(explain 'a car parked in the park')
case $e in *'"car park"'*) fail "'car parked ... park' read as a phrase: $e" ;; esac
[ "$("$mk" textcode "$m" "car park")" != "$("$mk" textcode "$m" "car")" ] || fail "'car park' = 'car'"
[ "$(ccode 'car')" = "$("$mk" textcode "$m" "car")" ] || fail "C encoder and libtorch differ on 'car'"
# the header: what the table was built with
"$py" - "$m" > "$TMP/hdr" <<'EOF' || fail "reading the header"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack_from("<I", b, 24)
h = json.loads(b[28:28 + n])
print(h.get("caption_words"), ",".join(sorted(h.get("phrases", []))))
EOF
read -r cw phrases < "$TMP/hdr"
[ "$cw" = 290 ] || fail "caption_words: '$cw' (the UCM captions have 290 words)"
for p in "parking lot" "mobile home"; do
    case ",$phrases," in *",$p,"*) ;; *) fail "phrases: '$phrases' lacks '$p'" ;; esac
done
# duch aliases rebuilds the same table from what the header says
"$duch" aliases "$m" -o "$TMP/re.duchm" 2> "$TMP/err" || fail "rebuilding the table: $(cat "$TMP/err")"
grep -q "(290 from the captions), [0-9]* phrases" "$TMP/err" || fail "summary: $(cat "$TMP/err")"
"$py" - "$m" "$TMP/re.duchm" <<'EOF' || fail "the rebuilt table differs from the shipped one"
import json, struct, sys
def header(p):
    b = open(p, "rb").read()
    (n,) = struct.unpack_from("<I", b, 24)
    return json.loads(b[28:28 + n])
a, b = header(sys.argv[1]), header(sys.argv[2])
for k in ("aliases", "caption_words", "phrases", "modifiers", "rare_words", "confidence"):
    if a.get(k) != b.get(k):
        sys.exit("member %s differs" % k)
EOF
# modifiers: the caption words used before a noun ("white buildings", "medium
# residential") keep the noun senses that name a quality or an activity ("navy" ->
# "blue", "diving" -> "swimming"), not a person or a thing: no slur for a white person,
# no "cinema" for "medium"; a noun that ends a caption phrase keeps the phrase's sense
# ("tank" of "storage tanks": no "vehicle" -> "tank")
"$py" - "$m" > "$TMP/mods" <<'EOF2' || fail "reading the modifiers"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack_from("<I", b, 24)
h = json.loads(b[28:28 + n])
print(",".join(h.get("modifiers", [])))
EOF2
for w in white medium blue; do
    grep -q "\(^\|,\)$w\(,\|$\)" "$TMP/mods" || fail "modifiers: '$(cat "$TMP/mods")' lacks '$w'"
done
e=$(explain 'navy ivory diving')
[ "$e" = '{"used": ["blue", "white", "swimming"], "mapped": {"navy": "blue", "ivory": "white", "diving": "swimming"}, "ignored": []}' ] ||
    fail "explain (a modifier's quality and activity): $e"
for w in honky paleface aryan wasp cinema fucker; do
    e=$(explain "$w")
    case $e in *'"mapped": {}'*) ;; *) fail "explain ('$w' is no alias of a modifier): $e" ;; esac
done
e=$(explain 'vehicle')
case $e in *'"tank"'*|*'"storage"'*) fail "explain ('vehicle' read as the army tank): $e" ;; esac
# a rare caption noun ("junction": a few of thousands of captions) alone is read as the
# frequent caption word WordNet relates it to (its hyponym "intersection"); the header
# lists the rare words
e=$(explain 'junction')
[ "$e" = '{"used": ["intersection"], "mapped": {"junction": "intersection"}, "ignored": []}' ] ||
    fail "explain (a rare caption noun): $e"
same "junction" "intersection"
grep -a -q '"rare_words":\[[^]]*"junction"' "$m" || fail "the header's rare_words lack 'junction'"
# known words run together (class names, compounds) are split and read as a text, phrase
# aliases first: "parkinglot" -> "parking lot", "carpark" -> "car park" -> "parking lot",
# three parts: "mobilehomepark"; not a word with an unknown part
e=$(explain 'parkinglot carpark')
[ "$e" = '{"used": ["parking", "lot", "parking", "lot"], "mapped": {"parkinglot": "parking lot", "carpark": "parking lot"}, "ignored": []}' ] ||
    fail "explain (known words run together): $e"
same "parkinglot" "parking lot"
same "carpark" "parking lot"
same "mobilehomepark" "mobile home park"
same "rows of tenniscourts" "rows of tennis courts"
e=$(explain 'qwertyzxcv')
[ "$e" = '{"used": [], "mapped": {}, "ignored": ["qwertyzxcv"]}' ] || fail "explain (no split): $e"
# a damaged modifiers or rare_words member is refused with a message
for member in modifiers rare_words; do
    "$py" - "$m" "$TMP/bad.duchm" "$member" <<'EOF2' || fail "writing a damaged model"
import json, struct, sys
b = open(sys.argv[1], "rb").read()
(n,) = struct.unpack_from("<I", b, 24)
h = json.loads(b[28:28 + n])
h[sys.argv[3]] = ["white", 7]
nh = json.dumps(h, separators=(",", ":")).encode()
rest = b[28 + n:-8]
body = b[:8] + b[8:16] + struct.pack("<Q", 4 + len(nh) + len(rest)) + struct.pack("<I", len(nh)) + nh + rest
x = 0xcbf29ce484222325
for c in body:
    x = ((x ^ c) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
open(sys.argv[2], "wb").write(body + struct.pack("<Q", x))
EOF2
    out=$("$duch" info "$TMP/bad.duchm" 2>&1); rc=$?
    [ "$rc" != 0 ] || fail "a damaged $member member was read: $out"
    case $member in modifiers) want="modifier 2 is not a string" ;; *) want="rare word 2 is not a string" ;; esac
    echo "$out" | grep -q "$want" || fail "damaged $member: $out"
done
# --data: captions that are not the model's training captions are refused
mkdir -p "$TMP/other"
printf '{"images": [{"filename": "x.jpg", "split": "train", "sentences": [{"raw": "zebra quokka"}]}]}\n' \
    > "$TMP/other/captions.json"
out=$("$duch" aliases --data "$TMP/other" "$m" -o "$TMP/x.duchm" 2>&1); rc=$?
[ "$rc" = 1 ] || fail "foreign captions: exit $rc ($out)"
echo "$out" | grep -q "no image of these splits has a caption in the model's words" || fail "message: $out"
[ ! -e "$TMP/x.duchm" ] || fail "a model was written from foreign captions"
"$duch" aliases --splits all "$m" -o "$TMP/x.duchm" 2>/dev/null; [ $? = 2 ] || fail "--splits without --data: not a usage error"
[ "$FAILS" -eq 0 ] && echo "ok: phrase aliases, libtorch = C encoder, rebuilt alike"
[ "$FAILS" -eq 0 ]
