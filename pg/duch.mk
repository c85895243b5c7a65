# The duch PostgreSQL extension, built with PGXS (pg_config). The top Makefile calls it
# (make, make install, make clean) from the build tree:
#   make -C pg -f SRC/pg/duch.mk VPATH=SRC/pg DUCH_SRC=SRC DUCH_BUILD=BUILD
# It compiles the pieces of index/ and model/ that the search needs (kernels, top-k, the
# WKB box, the C text encoder and the model-file reader): no GDAL, SQLite or libtorch in
# the server.
MODULE_big = duch
OBJS = duch_pg.o hamming.o topk.o wkb.o duch_utf8.o textenc.o modelfile.o json.o confidence.o
EXTENSION = duch
DATA = duch--0.1.0.sql
PGFILEDESC = "duch - text-to-tile search"

DUCH_SRC ?= ..
DUCH_BUILD ?= ..
vpath %.c $(DUCH_SRC)/index $(DUCH_SRC)/model
PG_CPPFLAGS = -I$(DUCH_BUILD) -I$(DUCH_SRC)/index -I$(DUCH_SRC)/model
DUCH_VERSION := $(shell sed -n 's/^\#define PACKAGE_VERSION "\(.*\)"/\1/p' $(DUCH_BUILD)/config.h)
PG_CPPFLAGS += -DDUCH_PG_VERSION='"$(DUCH_VERSION)"'
PG_CFLAGS = -std=gnu11 -Wno-declaration-after-statement -Wno-missing-prototypes
SHLIB_LINK = -lm

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: every object is rebuilt when a header of index/ or
# model/ (or config.h) changes, so no object keeps an old struct layout
DUCH_HEADERS := $(wildcard $(DUCH_SRC)/index/*.h $(DUCH_SRC)/model/*.h) $(DUCH_BUILD)/config.h
$(OBJS): $(DUCH_HEADERS)
