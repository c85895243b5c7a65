#!/bin/sh
# Every installed public header compiles on its own as plain C99 (and C11), warnings as errors.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$top_srcdir"/index/duch_*.h "$top_srcdir"/tiler/duch_*.h "$top_srcdir"/pipeline/duch_*.h "$top_srcdir"/model/duch_model.h; do
    [ -f "$h" ] || continue
    case "$h" in *_internal.h) continue;; esac
    for std in c99 c11; do
        printf '#include "%s"\n#include "%s"\nint main(void) { return 0; }\n' "$h" "$h" > "$tmp/t.c"
        if ! ${CC:-cc} -I"$top_srcdir/model" -I"$top_srcdir/index" -I"$top_srcdir/tiler" -I"$top_srcdir/pipeline" -std=$std -pedantic -Wall -Wextra -Werror -c "$tmp/t.c" -o "$tmp/t.o"; then
            echo "FAIL: $h does not compile as $std" >&2; exit 1
        fi
    done
    n=$((n + 1))
done
[ "$n" -ge 1 ] || { echo "FAIL: no public header found" >&2; exit 1; }
echo "ok: $n public headers compile as C99/C11"
