#!/bin/sh
# The confidence of a hit (issue 11; docs/model.md, "Confidence"):
#  - duch calibrate fits one on a held-out split and writes it into a copy of the model
#    (same codes, new id), atomically, also over its own input; its errors;
#  - a damaged "confidence" member is refused by the one model reader, with a message;
#  - duch query: conf in 0..1, falling with the distance, equal to the formula applied to
#    the printed distances with the weights in the model; --min-confidence filters and
#    its errors; the "no good match" line exactly when the first hit is below 0.5, and
#    never with -q;
#  - duch_knn's confidence column: the same values as duch query, NULL for a BLOB query
#    and for a model without a fit; the saved hits' column and the DUCH: layer's field.
. "${top_srcdir:?}/tests/cli_common.sh"
need_model
need_tools gdal_create sqlite3 ogrinfo
py=/usr/bin/python3; [ -x "$py" ] || py=python3
[ -f "${DUCH_MODEL_LIB:-}" ] || skip "no model library at ${DUCH_MODEL_LIB:-(unset)}"
mod="$top_builddir/.libs/mod_duch.so"

# --- a tiny model (no fit) and its synthetic captions.json (a query split of 6 images)
"$top_builddir/tests/index_mkarchive" train "$tmp/tiny" > "$tmp/train.log" 2>&1
rc=$?
[ $rc -eq 77 ] && skip "the model library does not load"
[ $rc -eq 0 ] || { cat "$tmp/train.log"; fail "training the tiny model"; }
tiny="$tmp/tiny/tiny.duchm"
"$duch" info "$tiny" | grep -q '^confidence  *none' || bad "tiny model: info does not say it has no fit"

# --- duch calibrate
run "calibrate" "$duch" calibrate "$tiny" --data "$tmp/tiny" -o "$tmp/tiny_c.duchm" --reliability "$tmp/rel.tsv"
grep -q "chosen: crowd rank [2-8]" "$tmp/out" || bad "calibrate: no 'chosen' line: $(cat "$tmp/out")"
"$duch" info "$tmp/tiny_c.duchm" > "$tmp/info" || bad "info of the calibrated model"
grep -q '^confidence  *fitted' "$tmp/info" || bad "calibrated: info: $(grep confidence "$tmp/info")"
[ "$("$duch" info "$tmp/tiny_c.duchm" | sed -n 's/^id  *//p')" != "$("$duch" info "$tiny" | sed -n 's/^id  *//p')" ] ||
    bad "calibrated model has the same id"
for t in "many red stripes" "blue water"; do
    [ "$("$duch" encode --model "$tiny" --text "$t")" = "$("$duch" encode --model "$tmp/tiny_c.duchm" --text "$t")" ] ||
        bad "calibration changed the text code of '$t'"
done
$py - "$tmp/rel.tsv" <<'PY' || bad "reliability table"
import sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert rows[0] == ["bin", "hits", "mean_confidence", "observed_precision"], rows[0]
n = 0
for b, hits, mc, op in rows[1:]:
    lo, hi = map(float, b.split("-"))
    assert lo - 1e-9 <= float(mc) <= hi + 1e-9 and 0 <= float(op) <= 1, (b, mc, op)
    n += int(hits)
# 18 captions, two rankings each: 6 hits present, 4 absent
assert n == 18 * (6 + 4), n
PY
# in place: the model is replaced whole, never truncated
cp "$tiny" "$tmp/inplace.duchm"
run "calibrate in place" "$duch" calibrate -q "$tmp/inplace.duchm" --data "$tmp/tiny" -o "$tmp/inplace.duchm"
cmp -s "$tmp/inplace.duchm" "$tmp/tiny_c.duchm" || bad "calibrating in place differs from into a new file"
[ -z "$(ls "$tmp" | grep part)" ] || bad "calibrate left a partial file: $(ls "$tmp")"
# errors
"$duch" calibrate "$tiny" -o "$tmp/x.duchm" > "$tmp/out" 2>&1; [ $? = 2 ] || bad "no --data: not a usage error"
refused "unknown split" 'no image of split "nope"' "$duch" calibrate "$tiny" --data "$tmp/tiny" --split nope -o "$tmp/x.duchm"
refused "bad --present" "present must be" "$duch" calibrate "$tiny" --data "$tmp/tiny" --present 1,,2 -o "$tmp/x.duchm"
# --present: more rankings per caption (2 present, 2 absent), recorded in the member
run "calibrate --present 1,0" "$duch" calibrate "$tiny" --data "$tmp/tiny" --present 1,0 -o "$tmp/tiny_p.duchm" --reliability "$tmp/relp.tsv"
[ "$(tail -n +2 "$tmp/relp.tsv" | awk -F'\t' '{n += $2} END {print n}')" = $((18 * (5 + 6 + 4 + 4))) ] ||
    bad "--present 1,0: the reliability table does not count 4 rankings per caption (1 or 2 images of the class left in, 2 absent)"
refused "other code length" "a fit is for one code length" "$duch" calibrate "$tiny" --with "$model" --data "$tmp/tiny" -o "$tmp/x.duchm"
refused "missing data" "cannot read $tmp/none/captions.json" "$duch" calibrate "$tiny" --data "$tmp/none" -o "$tmp/x.duchm"
refused "unwritable output" "cannot write $tmp/none/x.duchm" "$duch" calibrate -q "$tiny" --data "$tmp/tiny" -o "$tmp/none/x.duchm"
[ ! -e "$tmp/x.duchm" ] || bad "a failed calibrate wrote its output"

# --- a damaged "confidence" member: refused by the reader, with a message
cat > "$tmp/header.py" <<'PY'
import json, struct, sys
d = open(sys.argv[1], "rb").read()
hl, = struct.unpack("<I", d[24:28])
print(json.dumps(json.loads(d[28:28 + hl])))
PY
cat > "$tmp/member.py" <<'PY'
import json, struct, sys
def fnv1a64(data, h=0xcbf29ce484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h
src, dst, value = sys.argv[1], sys.argv[2], sys.argv[3]
d = open(src, "rb").read()
ver, = struct.unpack("<I", d[8:12])
assert d[:8] == b"DUCHMODL" and ver == 2
hl, = struct.unpack("<I", d[24:28])
head = json.loads(d[28:28 + hl])
head["confidence"] = json.loads(value)
nh = json.dumps(head, separators=(",", ":")).encode()
payload = struct.pack("<I", len(nh)) + nh + d[28 + hl:-8]
body = d[:8] + struct.pack("<IIQ", ver, 0, len(payload)) + payload
open(dst, "wb").write(body + struct.pack("<Q", fnv1a64(body)))
PY
for v in '{"crowd_rank":0,"w":[1,2,3]}' '{"crowd_rank":4,"w":[1,2]}' '{"crowd_rank":4.5,"w":[1,2,3]}' \
         '{"crowd_rank":4,"w":[1,"x",3]}' '[4,1,2,3]' '{"crowd_rank":1001,"w":[1,2,3]}'; do
    $py "$tmp/member.py" "$tmp/tiny_c.duchm" "$tmp/bad.duchm" "$v" || fail "rewriting the member"
    refused "damaged member $v" "confidence must be" "$duch" info "$tmp/bad.duchm"
done
$py "$tmp/member.py" "$tmp/tiny_c.duchm" "$tmp/good.duchm" '{"crowd_rank":3,"w":[1,-2,-3]}' || fail "rewriting"
"$duch" info "$tmp/good.duchm" | grep -q '^confidence  *fitted.*crowd rank 3' || bad "a hand-written member is not read"
$py "$tmp/header.py" "$tmp/tiny_p.duchm" | grep -q '"present": \[1, 0\]' || bad "--present is not recorded in the member"

# --- queries on an archive of the shipped model (which has a fit)
"$duch" info "$model" | grep -q '^confidence  *fitted' || fail "the shipped model has no confidence fit"
# Synthetic scenes (flat colours: every hit is a poor match) and, when ../shared/data is
# there, a crop of 8x4 UCM cells of the mosaic (real imagery: some queries match well).
i=0
for c in "40 170 90" "120 60 200" "200 200 190" "90 90 90"; do
    set -- $c; i=$((i + 1))
    gdal_create -q -of GTiff -outsize 520 520 -bands 3 -ot Byte -burn $1 -burn $2 -burn $3 \
        -a_srs EPSG:32610 -a_ullr $((501000 + 1000 * i)) 4200000 $((501156 + 1000 * i)) 4199844 "$tmp/s$i.tif" ||
        fail gdal_create
done
a="$tmp/a.sqlite"
mosaic="${DUCH_SHARED_DATA:-}/scenes/ucm_mosaic.tif"
real=0
if [ -f "$mosaic" ]; then
    gdal_translate -q -srcwin 0 0 2048 1024 "$mosaic" "$tmp/crop.tif" || fail "cropping the mosaic"
    "$duch" index -q --model "$model" "$a" "$tmp/crop.tif" || fail "index the crop"
    real=1
else
    echo "note: no $mosaic: synthetic scenes only (no well-matched query to check)"
fi
"$duch" index -q --model "$model" "$a" "$tmp"/s?.tif || fail "index"
$py "$tmp/header.py" "$model" > "$tmp/model.json" || fail "reading the model header"
# conf in 0..1, non-increasing with rank, and the formula over the printed distances
: > "$tmp/top1"
for q in "a parking lot" "many green trees" "a golf course" "buildings" "medium residential area" "a beach"; do
    "$duch" query "$a" "$q" -k 12 --format csv > "$tmp/q.csv" 2> "$tmp/q.err" || bad "query '$q'"
    sed -n 2p "$tmp/q.csv" | cut -d, -f3 >> "$tmp/top1"
    $py - "$tmp/q.csv" "$tmp/model.json" "$tmp/q.err" "$q" <<'PY' || bad "confidence of '$q'"
import csv, json, math, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
m = json.load(open(sys.argv[2]))
c = m["confidence"]; R = c["crowd_rank"]; w = c["w"]; bits = m["bits"]
assert len(rows) == 12, len(rows)
d = [int(r["distance"]) for r in rows]
conf = [float(r["confidence"]) for r in rows]
assert all(0 < x < 1 for x in conf), conf
assert all(a >= b for a, b in zip(conf, conf[1:])), conf
for di, ci in zip(d, conf):
    z = w[0] + w[1] * di / bits + w[2] * (d[min(R, len(d)) - 1] - d[0]) / bits
    assert abs(ci - 1 / (1 + math.exp(-z))) < 1e-9, (di, ci, z)
warned = "no good match" in open(sys.argv[3]).read()
assert warned == (conf[0] < 0.5), (sys.argv[4], conf[0], warned)
PY
    "$duch" query -q "$a" "$q" -k 3 2> "$tmp/q.err" > /dev/null || bad "query -q"
    [ ! -s "$tmp/q.err" ] || bad "-q printed: $(cat "$tmp/q.err")"
done
# on real imagery both sides of the threshold were seen (so the check above can fail)
if [ $real = 1 ]; then
    [ "$(awk '$1 >= 0.5' "$tmp/top1" | wc -l)" -ge 1 ] && [ "$(awk '$1 < 0.5' "$tmp/top1" | wc -l)" -ge 1 ] ||
        bad "first-hit confidences all on one side of 0.5: $(tr '\n' ' ' < "$tmp/top1")"
fi

# the value of a hit does not depend on k (the crowd rank's hits are searched anyway)
"$duch" query -q "$a" "a parking lot" -k 1 --format csv | sed -n 2p | cut -d, -f2,3 > "$tmp/k1"
"$duch" query -q "$a" "a parking lot" -k 12 --format csv | sed -n 2p | cut -d, -f2,3 > "$tmp/k12"
cmp -s "$tmp/k1" "$tmp/k12" || bad "the first hit's confidence changes with k: $(cat "$tmp/k1") / $(cat "$tmp/k12")"

# --min-confidence
"$duch" query -q "$a" "a parking lot" -k 12 --format csv > "$tmp/all.csv"
# C halfway between two different confidences of the list (never a printed value itself)
mid=$($py -c 'import csv,sys
c = sorted({float(r["confidence"]) for r in csv.DictReader(open(sys.argv[1]))}, reverse=True)
print(repr((c[0] + c[1]) / 2) if len(c) > 1 else "none")' "$tmp/all.csv")
[ "$mid" != none ] || fail "all 12 hits have one confidence: no threshold to test"
"$duch" query -q "$a" "a parking lot" -k 12 --format csv --min-confidence "$mid" > "$tmp/min.csv" || bad "--min-confidence"
$py - "$tmp/all.csv" "$tmp/min.csv" "$mid" <<'PY' || bad "--min-confidence keeps exactly the hits at or above C"
import csv, sys
a = list(csv.DictReader(open(sys.argv[1]))); m = list(csv.DictReader(open(sys.argv[2])))
want = [r for r in a if float(r["confidence"]) >= float(sys.argv[3])]
assert m == want and 1 <= len(m) < 12, (len(m), len(want))
PY
[ "$("$duch" query "$a" "a parking lot" -q --format csv --min-confidence 1 | wc -l)" = 1 ] ||
    bad "--min-confidence 1: hits came back"
[ "$("$duch" query "$a" "a parking lot" -q -k 5 --format csv --min-confidence 0 | wc -l)" = 6 ] ||
    bad "--min-confidence 0: not every hit"
for v in 1.5 -0.1 abc; do
    "$duch" query "$a" "a parking lot" --min-confidence "$v" > "$tmp/out" 2>&1
    [ $? = 2 ] && grep -q "min-confidence" "$tmp/out" || bad "--min-confidence $v: $(cat "$tmp/out")"
done
code=$(sqlite3 "$a" "SELECT hex(code) FROM tiles LIMIT 1")
"$duch" query "$a" --code "$code" --min-confidence 0.5 > "$tmp/out" 2>&1
[ $? = 2 ] && grep -q "text queries only" "$tmp/out" || bad "--min-confidence with --code: $(cat "$tmp/out")"
"$duch" query "$a" --code "$code" -k 3 > "$tmp/out" 2>&1 || bad "query by code"
[ "$(awk 'NR > 1 {print $3}' "$tmp/out" | sort -u)" = "-" ] || bad "a code query shows a confidence: $(cat "$tmp/out")"

# duch_knn: the same values, NULL for a BLOB query
sqlite3 -cmd ".load $mod" -csv "$a" \
    "SELECT tile_id, distance, printf('%.6f', confidence) FROM duch_knn('a parking lot', 12)" > "$tmp/sql.csv" ||
    bad "duch_knn confidence"
$py -c 'import csv,sys
for r in list(csv.DictReader(open(sys.argv[1]))): print("%s,%s,%.6f" % (r["tile_id"], r["distance"], float(r["confidence"])))' \
    "$tmp/all.csv" > "$tmp/cli.csv"
cmp -s "$tmp/sql.csv" "$tmp/cli.csv" || { bad "duch_knn and duch query differ"; diff "$tmp/sql.csv" "$tmp/cli.csv" | head; }
[ "$(sqlite3 -cmd ".load $mod" "$a" "SELECT count(*) FROM duch_knn(x'$code', 5) WHERE confidence IS NULL")" = 5 ] ||
    bad "duch_knn: a BLOB query has a confidence"
[ "$(sqlite3 -cmd ".load $mod" "$a" "SELECT count(*) FROM duch_knn('a parking lot', 12) WHERE confidence >= $mid")" = \
  "$(($(wc -l < "$tmp/min.csv") - 1))" ] || bad "WHERE confidence >= C differs from --min-confidence"

# saved hits and the DUCH: layer
"$duch" query -q "$a" "a parking lot" -k 4 --save hits > /dev/null || bad "--save"
sqlite3 -csv "$a" "SELECT tile_id, distance, printf('%.6f', confidence) FROM hits ORDER BY rank" > "$tmp/saved.csv"
head -4 "$tmp/cli.csv" | cmp -s - "$tmp/saved.csv" || bad "saved confidence: $(cat "$tmp/saved.csv")"
ogrinfo -ro -q -al "DUCH:$a" -oo QUERY="a parking lot" -oo K=4 > "$tmp/ogr" 2>&1 || bad "ogrinfo DUCH: $(cat "$tmp/ogr")"
# four values in 0..1 (OGR may print a small one as 1.5e-05)
[ "$(sed -n 's/^  confidence (Real) = //p' "$tmp/ogr" | awk '$1 + 0 >= 0 && $1 + 0 <= 1 && $1 ~ /^[0-9.e+-]+$/' | wc -l)" = 4 ] ||
    bad "DUCH: layer confidence: $(grep confidence "$tmp/ogr")"
ogrinfo -ro -q -al "DUCH:$a" -oo QUERY="a parking lot" -oo K=12 -where "confidence >= $mid" > "$tmp/ogr" 2>&1 ||
    bad "ogrinfo -where confidence: $(cat "$tmp/ogr")"
[ "$(grep -c '^  confidence (Real)' "$tmp/ogr")" = "$(($(wc -l < "$tmp/min.csv") - 1))" ] ||
    bad "DUCH: layer -where confidence >= C differs from --min-confidence"

# --- an archive of a model without a fit: no confidence anywhere, clear errors
b="$tmp/b.sqlite"
"$duch" index -q --model "$tiny" "$b" "$tmp/s1.tif" "$tmp/s2.tif" || fail "index with the tiny model"
"$duch" query "$b" "blue water" -k 3 --format csv > "$tmp/b.csv" 2> "$tmp/b.err" || bad "query without a fit"
[ "$(cut -d, -f3 "$tmp/b.csv" | tail -n +2 | sort -u)" = "" ] || bad "no fit, yet a confidence: $(cat "$tmp/b.csv")"
grep -q "no good match" "$tmp/b.err" && bad "no fit, yet a 'no good match' line"
"$duch" query "$b" "blue water" --min-confidence 0.5 > "$tmp/out" 2>&1
[ $? = 2 ] && grep -q "no confidence fit" "$tmp/out" || bad "--min-confidence without a fit: $(cat "$tmp/out")"
[ "$(sqlite3 -cmd ".load $mod" "$b" "SELECT count(*) FROM duch_knn('blue water', 3) WHERE confidence IS NULL")" = 3 ] ||
    bad "duch_knn: no fit, yet a confidence"
exit "$failed"
