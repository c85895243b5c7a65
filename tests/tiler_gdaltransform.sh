#!/bin/sh
# tiler_gdaltransform: tile footprints (tests/tiler_dump) against gdaltransform, which maps
# the same pixel positions of the same file to EPSG:4326 independently of the tiler.
# Fixtures: State Plane California 3 (US feet), UTM 33N, EPSG:4326 across the antimeridian.
set -eu
: "${top_builddir:=.}"
dump="$top_builddir/tests/tiler_dump"
for tool in gdal_create gdaltransform; do
    command -v $tool >/dev/null 2>&1 || { echo "skip: $tool not found"; exit 77; }
done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
export GDAL_PAM_ENABLED=NO

check() { # name srs ulx uly lrx lry tile densify
    name=$1 tif="$tmp/$1.tif"
    gdal_create -q -of GTiff -outsize 700 520 -bands 3 -burn 90 -a_srs "$2" \
        -a_ullr "$3" "$4" "$5" "$6" "$tif"
    "$dump" --tile-size "$7" --out-size 16 --densify "$8" --min-valid 0 "$tif" > "$tmp/$name.dump" \
        2> "$tmp/$name.err" || { cat "$tmp/$name.err" >&2; echo "FAIL: tiler_dump $name" >&2; exit 1; }
    # densified pixel positions of each tile: 4 sides x densify points
    awk -v d="$8" '$1 == "TILE" {
        x = $4; y = $5; w = $6; h = $7
        for (i = 0; i < d; i++) {
            f = i / d
            printf "%.10f %.10f\n", x + f * w, y
            printf "%.10f %.10f\n", x + w, y + f * h
            printf "%.10f %.10f\n", x + w - f * w, y + h
            printf "%.10f %.10f\n", x, y + h - f * h
        }
    }' "$tmp/$name.dump" > "$tmp/$name.px"
    gdaltransform -t_srs EPSG:4326 "$tif" < "$tmp/$name.px" > "$tmp/$name.ll"
    npts=$(wc -l < "$tmp/$name.px")
    [ "$npts" -gt 0 ] && [ "$(wc -l < "$tmp/$name.ll")" -eq "$npts" ] ||
        { echo "FAIL: $name: gdaltransform gave no points" >&2; exit 1; }
    # each gdaltransform point must be a vertex of its tile's ring (longitude modulo 360)
    awk -v d="$8" -v name="$name" '
        FNR == NR { lon[NR] = $1; lat[NR] = $2; next }
        $1 == "RING" {
            nt++
            n = (NF - 1) / 2
            if (n != 4 * d + 1) { printf "FAIL: %s tile %d: %d ring points\n", name, nt, n; bad++ }
            for (k = 0; k < 4 * d; k++) {
                p++
                found = 0
                for (i = 0; i < n && !found; i++) {
                    dl = $(2 + 2 * i) - lon[p]; dl = dl < 0 ? -dl : dl
                    while (dl > 180) dl = dl > 360 ? dl - 360 : 360 - dl
                    db = $(3 + 2 * i) - lat[p]; db = db < 0 ? -db : db
                    if (dl < 1e-7 && db < 1e-7) found = 1
                }
                if (!found) { printf "FAIL: %s tile %d: %s %s not in ring\n", name, nt, lon[p], lat[p]; bad++ }
            }
        }
        END {
            if (p == 0) { print "FAIL: " name ": no tile"; exit 1 }
            printf "%s: %d tiles, %d footprint points match gdaltransform\n", name, nt, p
            exit bad > 0
        }' "$tmp/$name.ll" "$tmp/$name.dump"
}

check stateplane_ft EPSG:2227 6000000 2100000 6001400 2098960 256 4
check utm33 EPSG:32633 500000 4100000 500210 4099844 128 2
check antimeridian EPSG:4326 179.7 -16.0 180.4 -16.52 256 4
# the antimeridian scene has a tile across 180 whose ring goes past 180 continuously
awk '$1 == "RING" { for (i = 2; i <= NF; i += 2) if ($i > 180) past = 1 } END { exit !past }' \
    "$tmp/antimeridian.dump" || { echo "FAIL: no ring continued past 180" >&2; exit 1; }
echo "ok"
