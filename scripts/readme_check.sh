#!/bin/sh
# The README's "Using it" section, line by line, as written, after `make install` (as
# scripts/quickstart.sh does): in a shell with no duch variable set (env -i), in a
# scratch folder holding the files the lines name (archive.sqlite, scene1.tif, scene2.tif,
# scene.tif: real georeferenced scenes). Shell lines run with sh; the SQL block runs in
# sqlite3, in spatialite and through Python's sqlite3. Then the man pages the README
# names, and `make uninstall` leaves nothing behind (with --uninstall BUILD_DIR).
#
# usage: scripts/readme_check.sh [--uninstall BUILD_DIR]
# Exit status: 0 when every line worked, 1 otherwise (each failure is named).
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
uninstall=""
[ "${1:-}" = "--uninstall" ] && uninstall=${2:?--uninstall needs the build folder}
readme="$top/README.md"
data="$top/../shared/data/scenes"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
bad() { echo "readme_check: FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "readme_check: ok: $*"; }
clean_env() {
    env -i HOME="$work" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        LANG=C.UTF-8 "$@"
}

command -v duch >/dev/null 2>&1 || clean_env sh -c 'command -v duch' >/dev/null ||
    { bad "duch is not on the PATH (run scripts/quickstart.sh, or make install, first)"; exit 1; }

# The scenes the lines name: the UCM mosaic when ../shared/data is there, else Debian's
# L7_ETMs.tif (as the quick start).
if [ -f "$data/ucm_mosaic.tif" ]; then
    main="$data/ucm_mosaic.tif"
    other="$data/RGB.byte.tif"
else
    mkdir -p "$work/deb"
    (cd "$work/deb" && apt-get download r-cran-stars >/dev/null 2>&1 && dpkg -x r-cran-stars_*.deb x)
    main=$(find "$work/deb/x" -name L7_ETMs.tif | head -n 1)
    other=$main
    [ -n "$main" ] || { bad "no scene to index (no ../shared/data, no r-cran-stars)"; exit 1; }
fi
cp "$main" "$work/scene1.tif"
cp "$other" "$work/scene2.tif"
cp "$main" "$work/scene.tif"

# The section's code blocks: indented lines between "## Using it" and the next "## ",
# continuation lines joined; a blank line ends a block.
awk '
    /^## / { inside = ($0 ~ /^## Using it/); next }
    !inside { next }
    /^    / { line = substr($0, 5); buf = buf line; if (line ~ /\\$/) { sub(/\\$/, "", buf); next }
              print buf; buf = ""; next }
    { if (buf != "") print buf; buf = ""; print "" }
' "$readme" >"$work/lines"
[ -s "$work/lines" ] || { bad "no code lines found under '## Using it' in README.md"; exit 1; }

n=0
sql=""
cd "$work" || exit 1
while IFS= read -r line; do
    case "$line" in
    "")
        continue ;;
    .load* | SELECT* | FROM* | JOIN* | WHERE* | "  "*)
        sql="$sql$line
"
        continue ;;
    esac
    n=$((n + 1))
    if clean_env sh -c "$line" >"$work/out.$n" 2>&1; then
        # a line that lists or queries must print something (or write its -o file)
        case "$line" in
        *" -o "*)
            f=$(echo "$line" | sed -n 's/.* -o \([^ ]*\).*/\1/p')
            [ -s "$f" ] || bad "wrote no $f: $line" ;;
        *"duch query"* | ogrinfo* | "duch info"* | gdalinfo*)
            [ -s "$work/out.$n" ] || bad "printed nothing: $line" ;;
        esac
        ok "$line"
    else
        bad "$line"
        sed 's/^/    /' "$work/out.$n" | tail -n 15 >&2
    fi
done <"$work/lines"
[ "$n" -ge 8 ] || bad "only $n shell lines found in the README's 'Using it' section"

# The SQL block, as written, in each SQL shell the README names.
if [ -z "$sql" ]; then
    bad "no SQL block in the README's 'Using it' section"
else
    printf '%s' "$sql" >"$work/block.sql"
    for shell in sqlite3 spatialite; do
        if clean_env sh -c "$shell archive.sqlite <block.sql" >"$work/sql.$shell" 2>&1 &&
            ! grep -qi "error" "$work/sql.$shell" && [ "$(grep -c '|' "$work/sql.$shell")" -ge 20 ]; then
            ok "$shell: the SQL block ($(grep -c '|' "$work/sql.$shell") rows)"
        else
            bad "$shell: the SQL block"
            tail -n 10 "$work/sql.$shell" >&2
        fi
    done
    # Python's sqlite3: the same .load names, as load_extension calls
    if clean_env python3 - archive.sqlite block.sql >"$work/sql.py" 2>&1 <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.enable_load_extension(True)
stmt, counts = "", []
for line in open(sys.argv[2]):
    if line.startswith(".load "):
        db.load_extension(line.split()[1])
        continue
    stmt += line
    if sqlite3.complete_statement(stmt):  # one statement at a time, as the shells run them
        counts.append(len(db.execute(stmt).fetchall()))
        stmt = ""
assert counts and counts[0] == 20, counts
print(sum(counts), "rows from", len(counts), "statements")
PY
    then
        ok "python3 sqlite3: the SQL block ($(cat "$work/sql.py"))"
    else
        bad "python3 sqlite3: the SQL block"
        tail -n 10 "$work/sql.py" >&2
    fi
fi

# The PostgreSQL section, line by line, as written, against a private cluster (initdb as
# "nobody", a socket folder, no TCP) with the database duch; PGHOST and PGUSER name it,
# as the README says.
awk '
    /^## / { inside = ($0 ~ /^## Beyond one machine/); next }
    inside && /^    / { print substr($0, 5) }
' "$readme" >"$work/pglines"
pgbin=$(pg_config --bindir 2>/dev/null || true)
if [ ! -s "$work/pglines" ]; then
    bad "no code lines under '## Beyond one machine' in README.md"
elif [ ! -x "$pgbin/initdb" ] || [ "$(id -u)" != 0 ]; then
    bad "the PostgreSQL section needs PostgreSQL (scripts/deps.sh) and root (to run initdb as nobody)"
else
    pgd=$(mktemp -d /tmp/duchrd.XXXXXX)
    chown nobody "$pgd"
    if runuser -u nobody -- "$pgbin/initdb" -D "$pgd/data" -U duch --auth=trust >"$pgd/log" 2>&1 &&
        runuser -u nobody -- "$pgbin/pg_ctl" -D "$pgd/data" -l "$pgd/server.log" -w \
            -o "-c listen_addresses='' -k $pgd" start >>"$pgd/log" 2>&1 &&
        PGHOST=$pgd PGUSER=duch psql -X -q -d postgres -c "CREATE DATABASE duch" >>"$pgd/log" 2>&1; then
        k=0
        while IFS= read -r line; do
            k=$((k + 1))
            if clean_env PGHOST="$pgd" PGUSER=duch sh -c "$line" >"$work/pg.$k" 2>&1; then
                case "$line" in
                *" index "* | *--save*) ok "$line" ;;
                *) if [ -s "$work/pg.$k" ]; then ok "$line"; else bad "printed nothing: $line"; fi ;;
                esac
            else
                bad "$line"
                sed 's/^/    /' "$work/pg.$k" | tail -n 15 >&2
            fi
        done <"$work/pglines"
        [ "$k" -ge 5 ] || bad "only $k lines in the PostgreSQL section"
    else
        bad "could not start a PostgreSQL cluster for the README's PostgreSQL section"
        tail -n 10 "$pgd/log" >&2
    fi
    runuser -u nobody -- "$pgbin/pg_ctl" -D "$pgd/data" -m fast -w stop >/dev/null 2>&1
    rm -rf "$pgd"
fi

# The man pages the README names (man -w: found on the man path).
for page in duch duch-index duch-query duch-optimize duch-aliases duch-calibrate duch-train duch-eval duch-encode duch-info; do
    if clean_env man -w "$page" >/dev/null 2>&1; then ok "man $page"; else bad "man $page: not on the man path"; fi
done

# make uninstall removes every file make install put in place.
if [ -n "$uninstall" ]; then
    prefix=$(sed -n 's/^prefix = //p' "$uninstall/Makefile")
    make -s -C "$uninstall" uninstall >"$work/uninstall.log" 2>&1 || bad "make uninstall failed"
    left=""
    for p in "$prefix/bin/duch" "$prefix/lib/libduch.so" "$prefix/lib/libduch_model.so" \
        "$prefix/share/duch" "$prefix/include/duch" "$prefix/share/man/man1/duch.1" \
        "$prefix/lib/pkgconfig/duch.pc"; do
        [ -e "$p" ] && left="$left $p"
    done
    for d in $(sed -n 's/^gdalplugindir = //p; s/^sqliteextdir = //p' "$uninstall/Makefile"); do
        d=$(echo "$d" | sed "s|\${libdir}|$prefix/lib|; s|\$(libdir)|$prefix/lib|")
        for f in "$d/gdal_DUCH.so" "$d/mod_duch.so"; do [ -e "$f" ] && left="$left $f"; done
    done
    if [ -n "$left" ]; then bad "make uninstall left:$left"; else ok "make uninstall removed everything"; fi
    # put it back as it was
    make -s -C "$uninstall" install >"$work/reinstall.log" 2>&1 || bad "make install (again) failed"
fi

if [ "$fails" -gt 0 ]; then
    echo "readme_check: $fails failure(s)" >&2
    exit 1
fi
echo "readme_check: the README's 'Using it' lines work as written"
