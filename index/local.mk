# index/ rules (included from the top Makefile.am)
# UTF-8-safe message truncation (index/duch_utf8.h): in libduch.so and mod_duch.so
# through libduch_knn.la, and linked into libduch_model.so (model/local.mk).
noinst_LTLIBRARIES += libduch_utf8.la
libduch_utf8_la_SOURCES = index/duch_utf8.c index/duch_utf8.h

# Kernels + top-k (no dependencies): also linked into mod_duch.so.
noinst_LTLIBRARIES += libduch_knn.la
libduch_knn_la_SOURCES = index/hamming.c index/topk.c index/duch_index.h
libduch_knn_la_LIBADD = libduch_utf8.la

# The archive (SpatiaLite), with the kernels.
noinst_LTLIBRARIES += libduch_index.la
# The PostGIS form (index/archive_pg.c, libpq) sits behind the same functions.
libduch_index_la_SOURCES = index/archive.c index/engine.c index/archive_internal.h \
	index/archive_pg.c index/archive_pg.h index/wkb.c
libduch_index_la_CPPFLAGS = $(AM_CPPFLAGS) $(SPATIALITE_CFLAGS) $(SQLITE_CFLAGS) $(PQ_CFLAGS)
libduch_index_la_LIBADD = libduch_knn.la $(SPATIALITE_LIBS) $(SQLITE_LIBS) $(PQ_LIBS) -lm
DUCH_PARTS += libduch_index.la
pkginclude_HEADERS += index/duch_index.h index/duch_common.h

check_PROGRAMS += tests/index_hamming tests/index_archive
TESTS += tests/index_hamming tests/index_archive
tests_index_hamming_SOURCES = tests/index_hamming.c tests/index_common.h
tests_index_hamming_LDADD = libduch_knn.la
check_PROGRAMS += tests/index_utf8
TESTS += tests/index_utf8
tests_index_utf8_SOURCES = tests/index_utf8.c
tests_index_utf8_LDADD = libduch_utf8.la
tests_index_archive_SOURCES = tests/index_archive.c
tests_index_archive_CPPFLAGS = $(AM_CPPFLAGS) $(SPATIALITE_CFLAGS) $(SQLITE_CFLAGS)
tests_index_archive_LDADD = libduch_index.la $(SPATIALITE_LIBS) $(SQLITE_LIBS) -lm

# fixtures for the shell tests (archives, a tiny model) and the archive part of duch info
check_PROGRAMS += tests/index_mkarchive
tests_index_mkarchive_SOURCES = tests/index_mkarchive.c apps/cmd_info_archive.c model/loader.c
tests_index_mkarchive_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/apps
tests_index_mkarchive_LDADD = libduch_index.la $(SPATIALITE_LIBS) $(SQLITE_LIBS) $(JPEG_LIBS) \
	$(DL_LIBS) $(PTHREAD_LIBS) -lm
TESTS += tests/index_ogr.sh
EXTRA_DIST += tests/index_ogr.sh docs/archive.md

# the one search engine against a brute force (blocks, rows, optimize, a live writer)
check_PROGRAMS += tests/index_engine
TESTS += tests/index_engine
tests_index_engine_SOURCES = tests/index_engine.c
tests_index_engine_CPPFLAGS = $(AM_CPPFLAGS) $(SPATIALITE_CFLAGS) $(SQLITE_CFLAGS)
tests_index_engine_LDADD = libduch_index.la $(SPATIALITE_LIBS) $(SQLITE_LIBS) -lm
