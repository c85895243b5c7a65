#!/bin/sh
# sql_cases: data-driven SQL tests (PostGIS regress / PROJ .gie style).
# Each tests/sql_*.cases file holds cases:
#   @setup           SQL run before every case of the file (in a fresh database)
#   @requires spatialite   the file needs SpatiaLite (run only where it is loaded)
#   @case NAME       the SQL of one case
#   @expect          its exact output (sqlite3 list mode, '|' between columns), or
#   @error           a text its error message must contain
# Every case runs through sqlite3 with mod_duch, sqlite3 with mod_spatialite then
# mod_duch (they coexist in one connection), and the spatialite shell when installed
# ($DUCH_SQL_FRONTS overrides the list).
. "$top_srcdir/tests/sql_common.sh"

# split a cases file into $TMP/c.N.{name,sql,expect,error}; prints the count
split_cases() {
    awk -v dir="$TMP" '
        function flush() { }
        /^@setup/   { mode = "setup"; next }
        /^@requires/ { print $2 > (dir "/requires"); next }
        /^@case /   { n++; mode = "sql"; name = substr($0, 7); print name > (dir "/c." n ".name");
                      printf "" > (dir "/c." n ".sql"); next }
        /^@expect/  { mode = "expect"; printf "" > (dir "/c." n ".expect"); next }
        /^@error/   { mode = "error"; printf "" > (dir "/c." n ".error"); next }
        /^#/ && mode != "expect" { next }
        mode == "setup"  { print > (dir "/setup.sql"); next }
        mode == "sql"    { print > (dir "/c." n ".sql"); next }
        mode == "expect" { print > (dir "/c." n ".expect"); next }
        mode == "error"  { print > (dir "/c." n ".error"); next }
        END { print n + 0 }
    ' "$1"
}

# run_case N FRONTEND: FRONTEND is sqlite3, sqlite3+spatialite or spatialite
run_case() {
    n=$1 fe=$2
    db="$TMP/db.$n.sqlite"
    rm -f "$db" "$db-wal" "$db-shm"
    name=$(cat "$TMP/c.$n.name")
    { cat "$TMP/setup.sql" 2>/dev/null; cat "$TMP/c.$n.sql"; } > "$TMP/run.sql"
    case $fe in
    sqlite3) sql "$db" < "$TMP/run.sql" > "$TMP/out" 2> "$TMP/err" ;;
    sqlite3+spatialite) sql "$db" spatialite < "$TMP/run.sql" > "$TMP/out" 2> "$TMP/err" ;;
    spatialite)
        { echo ".load $EXT"; cat "$TMP/run.sql"; } |
            spatialite -batch "$db" > "$TMP/out" 2> "$TMP/err.raw"
        rc=$?
        # the shell's own notice when it creates the metadata of a new file
        grep -v "SPATIAL_REF_SYS table already contains" "$TMP/err.raw" > "$TMP/err"
        (exit $rc) ;;
    esac
    rc=$?
    if [ $rc -ge 128 ]; then
        fail "$file [$fe] $name: crashed (exit $rc)"
        return
    fi
    if [ -f "$TMP/c.$n.expect" ]; then
        # trailing blank lines of the expected block do not count
        awk '{ l[NR] = $0 } END { n = NR; while (n > 0 && l[n] == "") n--; for (i = 1; i <= n; i++) print l[i] }' \
            "$TMP/c.$n.expect" > "$TMP/want"
        if ! cmp -s "$TMP/out" "$TMP/want" || [ -s "$TMP/err" ]; then
            fail "$file [$fe] $name"
            echo "--- expected" >&2; cat "$TMP/want" >&2
            echo "--- got" >&2; cat "$TMP/out" "$TMP/err" >&2
        fi
    else
        want=$(cat "$TMP/c.$n.error")
        if ! grep -qF -- "$want" "$TMP/err"; then
            fail "$file [$fe] $name: error '$want' expected"
            echo "--- got" >&2; cat "$TMP/out" "$TMP/err" >&2
        fi
    fi
}

fronts="sqlite3"
have_mod_spatialite && fronts="$fronts sqlite3+spatialite"
command -v spatialite >/dev/null 2>&1 && fronts="$fronts spatialite"
# DUCH_SQL_FRONTS="sqlite3 sqlite3+spatialite" picks front ends (e.g. for a sanitizer run)
fronts=${DUCH_SQL_FRONTS:-$fronts}
total=0
for file in "$top_srcdir"/tests/sql_*.cases; do
    rm -f "$TMP"/c.* "$TMP/setup.sql" "$TMP/requires"
    count=$(split_cases "$file")
    need=$(cat "$TMP/requires" 2>/dev/null)
    for fe in $fronts; do
        if [ "$need" = spatialite ] && [ "$fe" = sqlite3 ]; then
            continue
        fi
        i=1
        while [ "$i" -le "$count" ]; do
            run_case "$i" "$fe"
            total=$((total + 1))
            i=$((i + 1))
        done
    done
    echo "$(basename "$file"): $count cases through: $fronts"
done
if [ "$total" -eq 0 ]; then
    fail "no cases found"
fi
echo "$total case runs, $FAILS failures"
[ "$FAILS" -eq 0 ]
