#!/bin/sh
# Index a large scene: a SIZE x SIZE VRT that repeats ucm_mosaic.tif (6144x4096, 0.3048 m)
# and report tiles/s, the share of time spent reading / encoding / writing, and peak RSS;
# then -j 2 against -j 1 on two copies of a smaller scene.
#
# Scope: the whole `duch index` path (GDAL reads, tiler, model, SpatiaLite writes) with the
# shipped model. Baselines in the same run: the same scene at half the size (RSS must stay
# flat as the scene grows) and -j 1 (for -j 2).
#
# usage: bench/index_scene.sh [SIZE] [BUILD_DIR]   (SIZE default 40000; try 12288 for a quick run;
#        BENCH_SIZES=none skips the single-scene runs, BENCH_SIZES=big runs only the big one)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
size=${1:-40000}
build=${2:-$top/build}
mosaic=$top/../shared/data/scenes/ucm_mosaic.tif
[ -f "$mosaic" ] || { echo "needs ../shared/data/scenes/ucm_mosaic.tif" >&2; exit 77; }
mosaic=$(cd "$(dirname "$mosaic")" && pwd)/ucm_mosaic.tif
export DUCH_MODEL_LIB=${DUCH_MODEL_LIB:-$build/.libs/libduch_model.so}
export DUCH_DEFAULT_MODEL=${DUCH_DEFAULT_MODEL:-$top/model/default.duchm}
export DUCH_QUIET=1
duch="$build/duch"
[ -x "$duch" ] || { echo "build first (scripts/build.sh)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# A VRT repeating the mosaic (whole copies only, so every tile is a real image).
mkvrt() { # $1 = side in pixels, $2 = output
    python3 - "$mosaic" "$1" "$2" <<'PY'
import sys
src, side, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
W, H, px = 6144, 4096, 0.3048
nx, ny = -(-side // W), -(-side // H)
bands = []
for b in (1, 2, 3):
    srcs = []
    for j in range(ny):
        for i in range(nx):
            w = min(W, side - i * W); h = min(H, side - j * H)
            srcs.append(f'<SimpleSource><SourceFilename relativeToVRT="0">{src}</SourceFilename>'
                        f'<SourceBand>{b}</SourceBand><SrcRect xOff="0" yOff="0" xSize="{w}" ySize="{h}"/>'
                        f'<DstRect xOff="{i*W}" yOff="{j*H}" xSize="{w}" ySize="{h}"/></SimpleSource>')
    ci = ("Red", "Green", "Blue")[b - 1]
    bands.append(f'<VRTRasterBand dataType="Byte" band="{b}"><ColorInterp>{ci}</ColorInterp>{"".join(srcs)}</VRTRasterBand>')
open(out, "w").write(
    f'<VRTDataset rasterXSize="{side}" rasterYSize="{side}"><SRS>EPSG:32610</SRS>'
    f'<GeoTransform>500000, {px}, 0, 4200000, 0, {-px}</GeoTransform>{"".join(bands)}</VRTDataset>')
PY
}



half=$((size / 2))
mkvrt "$size" "$tmp/big.vrt"
mkvrt "$half" "$tmp/half.vrt"
echo "== scope: duch index of a repeated ucm_mosaic VRT, shipped model, $(nproc) cores"
for s in ${BENCH_SIZES:-half big}; do
    [ -f "$tmp/$s.vrt" ] || continue
    /usr/bin/time -f "%M" -o "$tmp/rss.$s" sh -c "DUCH_QUIET= \"$duch\" index \"$tmp/$s.sqlite\" \"$tmp/$s.vrt\" 2>&1 | tail -n 1" > "$tmp/sum.$s"
    echo "$s ($(python3 -c "import sys;print({'half':$half,'big':$size}['$s'])") px square): $(cat "$tmp/sum.$s")"
    echo "   peak RSS $(( $(tail -n 1 "$tmp/rss.$s") / 1024 )) MiB"
done
if [ -f "$tmp/rss.half" ] && [ -f "$tmp/rss.big" ]; then
    rh=$(tail -n 1 "$tmp/rss.half"); rb=$(tail -n 1 "$tmp/rss.big")
    echo "RSS ratio big/half: $(python3 -c "print(round($rb/$rh, 2))") (area ratio 4)"
fi

# -j 2 vs -j 1: two scenes of a quarter the size each.
q=$((size / 4)); [ "$q" -ge 4096 ] || q=4096
mkvrt "$q" "$tmp/q1.vrt"; cp "$tmp/q1.vrt" "$tmp/q2.vrt"
sed -i 's/500000,/600000,/' "$tmp/q2.vrt"
for j in 1 2; do
    /usr/bin/time -f "%e" -o "$tmp/t$j" sh -c "DUCH_QUIET= \"$duch\" index -j $j \"$tmp/j$j.sqlite\" \"$tmp/q1.vrt\" \"$tmp/q2.vrt\" 2>&1 | tail -n 1" > "$tmp/sum.j$j"
    echo "-j $j: $(cat "$tmp/sum.j$j")"
done
t1=$(tail -n 1 "$tmp/t1"); t2=$(tail -n 1 "$tmp/t2")
echo "two ${q}px scenes: -j 1 ${t1} s, -j 2 ${t2} s, speed-up $(python3 -c "print(round($t1/$t2, 2))")x"
