# plugin/ rules (included from the top Makefile.am): gdal_DUCH.so, the GDAL driver.
# It links libduch (which dlopens the model library on first use), never libtorch:
# GDAL loads every plugin at every start. Installed into $(gdalplugindir).
gdalplugin_LTLIBRARIES += gdal_DUCH.la
gdal_DUCH_la_SOURCES = plugin/gdal_DUCH.cpp plugin/duch_driver.c plugin/duch_driver.h
gdal_DUCH_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugin $(GDAL_CFLAGS)
gdal_DUCH_la_LIBADD = libduch.la $(GDAL_LIBS)
gdal_DUCH_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
gdal_DUCH_la_CXXFLAGS = $(AM_CXXFLAGS) -fvisibility=hidden
gdal_DUCH_la_LDFLAGS = -module -avoid-version -shared -no-undefined

# Tests find the built plugin through GDAL_DRIVER_PATH=$(abs_top_builddir)/.libs (set in
# AM_TESTS_ENVIRONMENT); libtool puts the module there as .libs/gdal_DUCH.so.
AM_TESTS_ENVIRONMENT += DUCH_GDAL_PLUGIN='$(abs_top_builddir)/.libs/gdal_DUCH.so'; \
	export DUCH_GDAL_PLUGIN;
PLUGIN_TESTS = tests/plugin_driver.sh tests/plugin_ingest_query.sh tests/plugin_existing.sh
TESTS += $(PLUGIN_TESTS) tests/plugin_cancel
EXTRA_DIST += $(PLUGIN_TESTS) bench/plugin_load.sh docs/gdal-driver.md
dist_man_MANS += docs/gdal_DUCH.7
# GDAL's C API only: the driver is reached through GDAL_DRIVER_PATH, as applications do.
check_PROGRAMS += tests/plugin_cancel
tests_plugin_cancel_SOURCES = tests/plugin_cancel.c
tests_plugin_cancel_CPPFLAGS = $(AM_CPPFLAGS) $(GDAL_CFLAGS)
tests_plugin_cancel_LDADD = $(GDAL_LIBS)
