# sql/ rules (included from the top Makefile.am)
# mod_duch.so: the SQLite extension. Links the kernels (index/) and the model loader;
# libduch (the tiler, GDAL) and the model library (libtorch) are dlopen'ed on use.
sqliteext_LTLIBRARIES = mod_duch.la
mod_duch_la_SOURCES = sql/mod_duch.c index/engine.c model/loader.c model/textenc.c model/duch_textenc.h $(DUCH_MODELFILE_SOURCES)
mod_duch_la_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS) -DDUCH_SQLITE_EXTENSION
mod_duch_la_LDFLAGS = -module -avoid-version -shared -no-undefined \
	-export-symbols-regex '^sqlite3_modduch_init$$'
mod_duch_la_LIBADD = libduch_knn.la $(DL_LIBS) $(PTHREAD_LIBS) -lm

# SQL tests: data-driven cases (tests/sql_*.cases) and brute-force comparisons
TESTS += tests/sql_cases.sh tests/sql_knn.sh tests/sql_text.sh tests/sql_utf8.sh
EXTRA_DIST += tests/sql_cases.sh tests/sql_knn.sh tests/sql_text.sh tests/sql_utf8.sh \
	tests/sql_common.sh \
	tests/sql_basic.cases tests/sql_errors.cases tests/sql_bbox.cases
EXTRA_DIST += docs/sql/README.md docs/sql/duch_version.md docs/sql/duch_hamming.md \
	docs/sql/duch_knn.md docs/sql/duch_text_code.md docs/sql/duch_image_code.md \
	docs/sql/duch_optimize.md docs/sql/duch_text_explain.md
# one engine: duch query, the DUCH: layer and duch_knn agree (boxes, blocks, rows)
TESTS += tests/cli_search_agree.sh
EXTRA_DIST += tests/cli_search_agree.sh tests/search_agree.py
TESTS += tests/cli_optimize.sh
EXTRA_DIST += tests/cli_optimize.sh
TESTS += tests/model_aliases.sh tests/model_wordnet.sh tests/model_phrases.sh
EXTRA_DIST += tests/model_aliases.sh tests/model_aliases.py tests/model_wordnet.sh tests/model_phrases.sh
TESTS += tests/cli_aliases.sh
EXTRA_DIST += tests/cli_aliases.sh
