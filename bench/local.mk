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
EXTRA_DIST += bench/ucm_precision.py
EXTRA_DIST += bench/sql_text_query.sh
