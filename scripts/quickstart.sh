#!/bin/sh
# The main job, end to end, on a fresh Debian 12 machine (as root): install what is
# needed, build and install duch (into /usr/local, where sqlite3, spatialite, GDAL, man
# and the shell look: see the README), index a real georeferenced scene with the shipped
# model, and run a few text queries.
#
# Uses ../shared/data/scenes/ucm_mosaic.tif when it exists, else the Landsat scene
# L7_ETMs.tif from the Debian package r-cran-stars (downloaded, not installed).
# Results go to ./quickstart/ (QUICKSTART_DIR overrides).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=${QUICKSTART_DIR:-$top/quickstart}
"$top/scripts/deps.sh"
echo "== building" >&2
build=$("$top/scripts/build.sh")
echo "== installing (make install)" >&2
if ! make -C "$build" -s install >"$build/install.log" 2>&1; then
    cat "$build/install.log" >&2
    echo "quickstart: make install failed (it installs into the prefix configure was given," \
        "/usr/local by default: run as root)" >&2
    exit 1
fi
prefix=$(sed -n 's/^prefix = //p' "$build/Makefile")
duch="$prefix/bin/duch"
command -v duch >/dev/null 2>&1 && [ "$(command -v duch)" = "$duch" ] && duch=duch
mkdir -p "$out"

scene="$top/../shared/data/scenes/ucm_mosaic.tif"
queries="many houses with gardens and trees|a freeway with cars|green trees in a forest|a river"
if [ -f "$scene" ]; then
    scene=$(cd "$(dirname "$scene")" && pwd)/ucm_mosaic.tif
    queries="dense residential area with many houses|an airport with planes and runways|a harbor with many boats|a baseball diamond|a river flowing through green land|tennis courts"
else
    echo "== ../shared/data not found: fetching L7_ETMs.tif from Debian's r-cran-stars" >&2
    mkdir -p "$out/deb"
    (cd "$out/deb" && { ls r-cran-stars_*.deb >/dev/null 2>&1 || apt-get download r-cran-stars >/dev/null; } &&
        dpkg -x r-cran-stars_*.deb x)
    scene=$(find "$out/deb/x" -name L7_ETMs.tif | head -n 1)
    [ -n "$scene" ] || { echo "quickstart: L7_ETMs.tif not found in r-cran-stars" >&2; exit 1; }
    queries="green farmland|a river|many buildings in a city|bare land"
fi
archive="$out/archive.sqlite"
echo "== indexing $scene into $archive" >&2
"$duch" index "$archive" "$scene"
"$duch" info "$archive" 2>/dev/null || true

first=1
echo "$queries" | tr '|' '\n' | while IFS= read -r q; do
    echo
    echo "== duch query archive.sqlite \"$q\" -k 5"
    "$duch" query "$archive" "$q" -k 5
    if [ "$first" = 1 ]; then
        "$duch" query "$archive" "$q" -k 10 --format geojson -o "$out/hits.geojson" \
            --quicklook "$out/hits.png" --save hits
        first=0
        firstq=$q
        echo "   (top 10 of \"$q\" written to hits.geojson, hits.png and table 'hits')"
    fi
done
cat <<MSG

Done. Results are in $out:
  archive.sqlite  the archive (SpatiaLite): tables 'tiles' and 'scenes' with footprints,
                  and 'hits', the first query's top 10
  hits.geojson    the first query's top 10 as GeoJSON
  hits.png        their tiles as a contact sheet
duch is installed under $prefix; the README's "Using it" lines work as written. Try:
  $duch query $archive "your words here" -k 10
  ogrinfo -al DUCH:$archive -oo QUERY="a river" -oo K=5
  man duch
Open in QGIS: Layer > Add Layer > Add SpatiaLite Layer, connect to archive.sqlite and add
'tiles' and 'hits'; or drag hits.geojson onto the map. With GDAL: ogrinfo $archive
MSG
