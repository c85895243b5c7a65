# tests/ rules shared by all modules (module tests are registered in each module's local.mk)
TESTS += tests/headers_c.sh tests/cli_basic.sh
EXTRA_DIST += tests/headers_c.sh tests/cli_basic.sh
TESTS += tests/cli_index_resume.sh
EXTRA_DIST += tests/cli_index_resume.sh
TESTS += tests/qgis_archive.sh
EXTRA_DIST += tests/qgis_layers.py tests/qgis_archive.sh
TESTS += tests/cli_index_scenes.sh
EXTRA_DIST += tests/cli_index_scenes.sh
TESTS += tests/cli_archive_safety.sh tests/cli_index_chunks.sh
EXTRA_DIST += tests/cli_archive_safety.sh tests/cli_index_chunks.sh
# duch_ingest() killed by SIGKILL inside a chunk's transaction (the fault comes from the
# test side: an SQLite update hook), for cli_index_resume.sh and cli_index_chunks.sh.
check_PROGRAMS += tests/pipeline_kill
tests_pipeline_kill_SOURCES = tests/pipeline_kill.c
tests_pipeline_kill_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS)
tests_pipeline_kill_LDADD = libduch.la $(SQLITE_LIBS)
TESTS += tests/cli_query_output.sh tests/cli_messages.sh
EXTRA_DIST += tests/cli_query_output.sh tests/cli_messages.sh
# The ingest and search API of libduch, as a C program calls it.
check_PROGRAMS += tests/pipeline_api
TESTS += tests/pipeline_api
tests_pipeline_api_SOURCES = tests/pipeline_api.c tests/tiler_fixtures.h
tests_pipeline_api_CPPFLAGS = $(AM_CPPFLAGS) $(GDAL_CFLAGS)
tests_pipeline_api_LDADD = libduch.la $(GDAL_LIBS) -lm
# What the shell tests of the front ends share (sourced).
EXTRA_DIST += tests/cli_common.sh
TESTS += tests/cli_query_words.sh
EXTRA_DIST += tests/cli_query_words.sh
# The confidence of a hit: duch calibrate, the model member, and every front end.
TESTS += tests/cli_confidence.sh
EXTRA_DIST += tests/cli_confidence.sh
# The PostGIS archive and the PostgreSQL extension, on a cluster the test starts itself
# (initdb as an unprivileged user, pg_ctl on a private socket folder, no TCP).
TESTS += tests/pg_archive.sh
EXTRA_DIST += tests/pg_archive.sh tests/pg_common.sh tests/qgis_pg.py
# Heat maps and regions: duch query --heatmap/--regions/--scene, the driver's raster.
TESTS += tests/cli_heatmap.sh
EXTRA_DIST += tests/cli_heatmap.sh
