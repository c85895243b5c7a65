# bench/ rules (included from the top Makefile.am)
EXTRA_DIST += bench/index_scene.sh

# knn: duch_knn against sqlite-vec, and the kernels (make bench-knn; not in make check)
EXTRA_PROGRAMS = bench/knn_bench
bench_knn_bench_SOURCES = bench/knn_bench.c
bench_knn_bench_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS)
bench_knn_bench_LDADD = libduch_knn.la $(SQLITE_LIBS)
EXTRA_DIST += bench/knn.sh bench/README.md
CLEANFILES += bench/knn_bench$(EXEEXT)
.PHONY: bench-knn
bench-knn: bench/knn_bench$(EXEEXT) mod_duch.la
	$(SHELL) $(srcdir)/bench/knn.sh $(abs_top_builddir) $(BENCH_SIZES)
EXTRA_DIST += bench/ucm_precision.py bench/user_precision.py bench/absent_auroc.py bench/user_queries.tsv \
	bench/user_queries_b.tsv bench/user_queries_c.tsv bench/user_queries_d.tsv bench/mosaic.py
EXTRA_DIST += bench/sql_text_query.sh

# first query of a connection: packed code blocks against rows (make bench-first-query)
EXTRA_PROGRAMS += bench/first_query
bench_first_query_SOURCES = bench/first_query.c
bench_first_query_CPPFLAGS = $(AM_CPPFLAGS) $(SQLITE_CFLAGS) $(SPATIALITE_CFLAGS)
bench_first_query_LDADD = libduch_index.la $(SPATIALITE_LIBS) $(SQLITE_LIBS) -lm
EXTRA_DIST += bench/first_query.sh bench/first_query_archive.sh
CLEANFILES += bench/first_query$(EXEEXT)
.PHONY: bench-first-query
bench-first-query: bench/first_query$(EXEEXT) mod_duch.la duch$(EXEEXT)
	$(SHELL) $(srcdir)/bench/first_query.sh $(abs_top_builddir) $(BENCH_TILES)

# PostgreSQL: the extension's duch_knn against plain SQL and mod_duch, and concurrent
# indexers (make bench-pg; a private cluster; not in make check)
EXTRA_DIST += bench/pg_knn.sh
.PHONY: bench-pg
bench-pg: duch$(EXEEXT) mod_duch.la pg-ext
	$(SHELL) $(srcdir)/bench/pg_knn.sh $(abs_top_builddir) $(BENCH_TILES)
# heat maps: AUROC of the class cells on ucm_mosaic, and a 40000 x 40000 scene's heat map
# (make bench-heatmap; not in make check)
EXTRA_DIST += bench/heatmap_auroc.py bench/heatmap_scene.sh
.PHONY: bench-heatmap
bench-heatmap: all
	$(SHELL) $(srcdir)/bench/heatmap_scene.sh $(abs_top_builddir)
	/usr/bin/python3 $(srcdir)/bench/heatmap_auroc.py --build $(abs_top_builddir)
