#!/bin/sh
# Install what duch needs to build and test on Debian 12 (run as root). Idempotent:
# apt-get runs only when a package is missing.
set -eu
PKGS="build-essential autoconf automake libtool pkg-config
libgdal-dev gdal-bin python3-gdal libproj-dev proj-bin
libsqlite3-dev sqlite3 libspatialite-dev libsqlite3-mod-spatialite spatialite-bin
libtorch-dev libjpeg-dev libpng-dev python3-qgis qgis-providers wordnet-dev wordnet-base man-db
libpq-dev postgresql-15 postgresql-15-postgis-3 postgresql-server-dev-15 postgresql-client-15
${DUCH_EXTRA_PKGS:-}"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "duch: missing Debian packages:$missing" >&2
        echo "duch: run this script as root (or: sudo apt-get install$missing)" >&2
        exit 1
    fi
    echo "duch: installing:$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
