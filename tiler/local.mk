# tiler/ rules (included from the top Makefile.am)
noinst_LTLIBRARIES += libduch_tiler.la
DUCH_PARTS += libduch_tiler.la
# tiler.c formats its messages with index/duch_utf8.h (in libduch through libduch_knn.la)
libduch_tiler_la_SOURCES = tiler/tiler.c tiler/duch_tiler.h tiler/sha256.c tiler/sha256.h
libduch_tiler_la_CPPFLAGS = $(AM_CPPFLAGS) $(GDAL_CFLAGS) $(PROJ_CFLAGS)
pkginclude_HEADERS += tiler/duch_tiler.h
EXTRA_DIST += docs/tiler.md

# Tests: link the convenience library directly (not libduch), so another module's
# breakage does not stop them.
TILER_TEST_LIBS = libduch_tiler.la libduch_utf8.la $(GDAL_LIBS) $(PROJ_LIBS) -lm
TILER_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(GDAL_CFLAGS) $(PROJ_CFLAGS)
TILER_TESTS = tests/tiler_grid tests/tiler_footprint tests/tiler_bands tests/tiler_validity \
	tests/tiler_errors tests/tiler_memory tests/tiler_threads tests/tiler_ucm tests/tiler_scenes \
	tests/tiler_resume
check_PROGRAMS += $(TILER_TESTS) tests/tiler_dump
TESTS += $(TILER_TESTS) tests/tiler_gdaltransform.sh
EXTRA_DIST += tests/tiler_gdaltransform.sh
tests_tiler_grid_SOURCES = tests/tiler_grid.c tests/tiler_fixtures.h
tests_tiler_grid_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_grid_LDADD = $(TILER_TEST_LIBS)
tests_tiler_footprint_SOURCES = tests/tiler_footprint.c tests/tiler_fixtures.h
tests_tiler_footprint_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_footprint_LDADD = $(TILER_TEST_LIBS)
tests_tiler_bands_SOURCES = tests/tiler_bands.c tests/tiler_fixtures.h
tests_tiler_bands_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_bands_LDADD = $(TILER_TEST_LIBS)
tests_tiler_validity_SOURCES = tests/tiler_validity.c tests/tiler_fixtures.h
tests_tiler_validity_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_validity_LDADD = $(TILER_TEST_LIBS)
tests_tiler_errors_SOURCES = tests/tiler_errors.c tests/tiler_fixtures.h
tests_tiler_errors_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_errors_LDADD = $(TILER_TEST_LIBS)
tests_tiler_memory_SOURCES = tests/tiler_memory.c tests/tiler_fixtures.h
tests_tiler_memory_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_memory_LDADD = $(TILER_TEST_LIBS)
tests_tiler_threads_SOURCES = tests/tiler_threads.c tests/tiler_fixtures.h
tests_tiler_threads_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_threads_LDADD = $(TILER_TEST_LIBS) $(PTHREAD_LIBS)
tests_tiler_ucm_SOURCES = tests/tiler_ucm.c tests/tiler_fixtures.h
tests_tiler_ucm_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_ucm_LDADD = $(TILER_TEST_LIBS)
tests_tiler_scenes_SOURCES = tests/tiler_scenes.c tests/tiler_fixtures.h
tests_tiler_scenes_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_scenes_LDADD = $(TILER_TEST_LIBS)
tests_tiler_resume_SOURCES = tests/tiler_resume.c tests/tiler_fixtures.h
tests_tiler_resume_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_resume_LDADD = $(TILER_TEST_LIBS)
tests_tiler_dump_SOURCES = tests/tiler_dump.c
tests_tiler_dump_CPPFLAGS = $(TILER_TEST_CPPFLAGS)
tests_tiler_dump_LDADD = $(TILER_TEST_LIBS)
