# pg/ rules (included from the top Makefile.am): the PostgreSQL extension `duch`
# (CREATE EXTENSION duch), built with PGXS by pg/duch.mk in the build tree's pg/ folder,
# and installed where pg_config says (`make install` as root, or `make install-pg`).
PG_EXT_MAKE = $(MAKE) -C pg -f $(abs_top_srcdir)/pg/duch.mk VPATH=$(abs_top_srcdir)/pg \
	DUCH_SRC=$(abs_top_srcdir) DUCH_BUILD=$(abs_top_builddir) PG_CONFIG=$(PG_CONFIG)
EXTRA_DIST += pg/duch.mk pg/duch.control pg/duch--0.1.0.sql pg/duch_pg.c

.PHONY: pg-ext install-pg
all-local: pg-ext
pg-ext: config.h
	+@$(MKDIR_P) pg && $(PG_EXT_MAKE) -s all >pg/build.log 2>&1 || { cat pg/build.log >&2; exit 1; }

# PostgreSQL's folders belong to the server, not to --prefix: written when they can be
# (root, or DESTDIR), else said so.
install-pg: pg-ext
	$(PG_EXT_MAKE) -s install
install-data-local: pg-ext
	@if test -n "$(DESTDIR)" || test -w "`$(PG_CONFIG) --pkglibdir`"; then \
	  $(PG_EXT_MAKE) -s install; \
	else \
	  echo "note: `$(PG_CONFIG) --pkglibdir` is not writable: the PostgreSQL extension was not installed (run make install-pg as root)"; \
	fi
uninstall-local:
	@if test -n "$(DESTDIR)" || test -w "`$(PG_CONFIG) --pkglibdir`"; then \
	  $(PG_EXT_MAKE) -s uninstall; fi
clean-local:
	-@test -d pg && $(PG_EXT_MAKE) -s clean
