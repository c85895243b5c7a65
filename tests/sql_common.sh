# sql_common.sh: sourced by the tests/sql_*.sh scripts.
# Finds the built extension and the SQL front ends, makes a scratch folder.
: "${top_builddir:?run through make check}"
EXT="$top_builddir/.libs/mod_duch"
if [ ! -f "$EXT.so" ]; then
    echo "FAIL: $EXT.so was not built" >&2
    exit 1
fi
if ! command -v sqlite3 >/dev/null 2>&1; then
    echo "SKIP: no sqlite3 command line program"
    exit 77
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/duch_sql.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
FAILS=0
fail() {
    echo "FAIL: $*" >&2
    FAILS=$((FAILS + 1))
}
# sql DB [mod_spatialite]: run stdin through sqlite3 with mod_duch loaded
sql() {
    _db=$1
    if [ "${2-}" = spatialite ]; then
        sqlite3 -batch -cmd ".load mod_spatialite" -cmd ".load $EXT" "$_db"
    else
        sqlite3 -batch -cmd ".load $EXT" "$_db"
    fi
}
have_mod_spatialite() {
    sqlite3 :memory: ".load mod_spatialite" "SELECT 1" >/dev/null 2>&1
}
