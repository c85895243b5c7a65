#!/bin/sh
# Every installed public header (the Makefile's pkginclude_HEADERS) compiles on its own,
# from one folder holding only the installed headers (as include/duch/ does after
# `make install`), as plain C99 and C11 and as C++, warnings as errors, included twice.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}" "${DUCH_PUBLIC_HEADERS:?}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/duch"
for h in $DUCH_PUBLIC_HEADERS; do cp "$top_srcdir/$h" "$tmp/duch/"; done
n=0
for h in $DUCH_PUBLIC_HEADERS; do
    b=$(basename "$h")
    printf '#include <duch/%s>\n#include <duch/%s>\nint main(void) { return 0; }\n' "$b" "$b" > "$tmp/t.c"
    for std in c99 c11; do
        if ! ${CC:-cc} -I"$tmp" -I"$tmp/duch" -std=$std -pedantic -Wall -Wextra -Werror -c "$tmp/t.c" -o "$tmp/t.o"; then
            echo "FAIL: $b does not compile alone as $std" >&2; exit 1
        fi
    done
    cp "$tmp/t.c" "$tmp/t.cpp"
    if ! ${CXX:-c++} -I"$tmp" -I"$tmp/duch" -std=c++14 -pedantic -Wall -Wextra -Werror -c "$tmp/t.cpp" -o "$tmp/t.o"; then
        echo "FAIL: $b does not compile alone as C++14" >&2; exit 1
    fi
    n=$((n + 1))
done
[ "$n" -ge 6 ] || { echo "FAIL: only $n public headers found in pkginclude_HEADERS" >&2; exit 1; }
echo "ok: $n installed headers compile alone as C99/C11/C++14"
