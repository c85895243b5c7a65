# tests/pg_common.sh: a private PostgreSQL cluster for one test (sourced after
# cli_common.sh, which makes $tmp and the EXIT trap).
#   pg_start         initdb into $tmp/pg (as the unprivileged user "nobody" when the test
#                    runs as root: PostgreSQL refuses root), pg_ctl on a private socket folder
#                    with no TCP; sets PGHOST, PGUSER, PGDATABASE and $pg (the conninfo);
#                    stopped at exit
#   pg_db NAME       a new database NAME with PostGIS; its conninfo in $pgc
#   psqlq SQL...     psql -At on $PGDATABASE, stopping the test on an SQL error
# The extension must be installed where pg_config says (make install-pg, as root): when
# the test runs as root it installs the build tree's, else it checks that it is there.
pg_bin=$(pg_config --bindir 2>/dev/null) || fail "pg_config not found (apt-get install postgresql-server-dev-15)"
[ -x "$pg_bin/initdb" ] || fail "no initdb in $pg_bin (apt-get install postgresql-15)"
[ -f "$(pg_config --sharedir)/extension/postgis.control" ] ||
    fail "PostGIS is not installed (apt-get install postgresql-15-postgis-3)"

pg_ensure_extension() {
    built="$top_builddir/pg/duch.so"
    [ -f "$built" ] || fail "the PostgreSQL extension was not built ($built)"
    inst="$(pg_config --pkglibdir)/duch.so"
    if ! cmp -s "$built" "$inst" || ! cmp -s "$top_srcdir/pg/duch--0.1.0.sql" \
            "$(pg_config --sharedir)/extension/duch--0.1.0.sql"; then
        if [ "$(id -u)" = 0 ]; then
            make -s -C "$top_builddir" install-pg >"$tmp/install-pg.log" 2>&1 ||
                fail "make install-pg: $(cat "$tmp/install-pg.log")"
        else
            fail "the duch extension in $(pg_config --pkglibdir) is missing or older than the build: run make install-pg as root"
        fi
    fi
}

# the server's programs run as themselves: without the sanitizer runtime a test under
# ASan preloads (PostgreSQL hangs with it)
pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u nobody -- env -u LD_PRELOAD "$@"; else env -u LD_PRELOAD "$@"; fi
}

# psql too (it hangs with the sanitizer runtime preloaded)
psql() { env -u LD_PRELOAD psql "$@"; }

pg_stop() {
    [ -n "${pg_dir:-}" ] && [ -f "$pg_dir/data/postmaster.pid" ] &&
        pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1
    chmod -R u+w "$tmp" 2>/dev/null
    rm -rf "$tmp"
}

pg_start() {
    pg_ensure_extension
    # a short socket path (Unix sockets are limited to 107 bytes)
    pg_dir=$(mktemp -d /tmp/duchpg.XXXXXX) || fail mktemp
    trap 'pg_stop; rm -rf "$pg_dir"' EXIT
    [ "$(id -u)" = 0 ] && chown nobody "$pg_dir"
    pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U duch --auth=trust -E UTF8 --locale=C \
        >"$pg_dir/initdb.log" 2>&1 || fail "initdb: $(cat "$pg_dir/initdb.log")"
    pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $pg_dir -c fsync=off -c max_connections=50" start \
        >/dev/null 2>&1 || fail "pg_ctl start: $(cat "$pg_dir/server.log")"
    PGHOST=$pg_dir PGUSER=duch PGDATABASE=postgres PGOPTIONS="-c client_min_messages=warning"
    export PGHOST PGUSER PGDATABASE PGOPTIONS
    pg="dbname=postgres host=$pg_dir user=duch"
}

pg_db() {
    psql -q -c "CREATE DATABASE $1" >/dev/null || fail "CREATE DATABASE $1"
    pgc="dbname=$1 host=$pg_dir user=duch"
}

psqlq() {
    psql -X -At -v ON_ERROR_STOP=1 "$@" || fail "psql $*"
}
