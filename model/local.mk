# model/ rules (included from the top Makefile.am)

# The one model-file reader, tokenizer, JSON reader and FNV-1a 64, in plain C: the C text
# encoder (libduch, mod_duch) and the libtorch side (libduch_model) all use them. Their
# symbols are hidden (DUCH_INTERNAL): every library keeps its own copy. Whatever compiles
# model/textenc.c needs $(DUCH_MODELFILE_SOURCES) too (with per-target flags, or
# libduch_modelfile.la in its LDADD as the tests here do).
DUCH_MODELFILE_SOURCES = model/modelfile.c model/duch_modelfile.h model/json.c model/duch_json.h \
	model/confidence.c
noinst_LTLIBRARIES += libduch_modelfile.la
libduch_modelfile_la_SOURCES = $(DUCH_MODELFILE_SOURCES)
libduch_modelfile_la_LIBADD = -lm
DUCH_PARTS += libduch_modelfile.la
# libduch_model.so: the DUCH networks over libtorch, reached through dlopen only.
# Two C++ translation units: duch_torch.cpp includes libtorch (slow to compile),
# duch_data.cpp holds everything that does not need it. Training reads WordNet
# (model/wn_aliases.c, libwordnet): caption stand-ins, word kinds, the alias table.
lib_LTLIBRARIES += libduch_model.la
libduch_model_la_SOURCES = model/duch_torch.cpp model/duch_data.cpp model/duch_model_internal.h \
	model/wn_aliases.c model/duch_wn_aliases.h
libduch_model_la_CPPFLAGS = $(AM_CPPFLAGS) $(TORCH_CPPFLAGS)
libduch_model_la_CXXFLAGS = $(AM_CXXFLAGS) -O2 -Wno-sign-compare
libduch_model_la_LIBADD = libduch_modelfile.la libduch_utf8.la $(TORCH_LIBS) $(JPEG_LIBS) $(PTHREAD_LIBS) \
	$(WORDNET_LIBS) -lm
libduch_model_la_LDFLAGS = -avoid-version -no-undefined

# duch train / eval / encode / info
duch_SOURCES += apps/cmd_model.c apps/cmd_info.c

# tests (the model library is reached through dlopen, via DUCH_MODEL_LIB)
check_PROGRAMS += tests/model_map tests/model_train tests/model_header
TESTS += tests/model_map tests/model_train tests/model_header tests/model_cli.sh
EXTRA_DIST += tests/model_cli.sh
tests_model_map_SOURCES = tests/model_map.c tests/model_common.h
tests_model_map_LDADD = $(DL_LIBS) -lm
tests_model_train_SOURCES = tests/model_train.c tests/model_common.h
tests_model_train_LDADD = $(JPEG_LIBS) $(DL_LIBS) -lm
tests_model_header_SOURCES = tests/model_header.c tests/model_common.h
tests_model_header_CFLAGS = $(AM_CFLAGS) -std=c99
tests_model_header_LDADD = $(DL_LIBS)

# benchmark (not in make check): sh bench/model_encode.sh
noinst_PROGRAMS += bench/model_encode
bench_model_encode_SOURCES = bench/model_encode.c
bench_model_encode_LDADD = $(DL_LIBS)
EXTRA_DIST += bench/model_encode.sh

dist_man_MANS += docs/duch-train.1 docs/duch-eval.1 docs/duch-encode.1 docs/duch-info.1
dist_doc_DATA += docs/model.md

# the shipped default model (trained as docs/model.md says), installed as
# share/duch/models/default.duchm
dist_models_DATA += model/default.duchm

# the text branch in plain C (model/textenc.c, in libduch and mod_duch): checked
# against the libtorch encoder on every caption and synthetic texts
pkginclude_HEADERS += model/duch_textenc.h
check_PROGRAMS += tests/model_textenc
TESTS += tests/model_textenc tests/model_textenc_tiny.sh
EXTRA_DIST += tests/model_textenc_tiny.sh
tests_model_textenc_SOURCES = tests/model_textenc.c tests/model_common.h model/textenc.c \
	model/duch_textenc.h
tests_model_textenc_LDADD = libduch_modelfile.la libduch_utf8.la $(DL_LIBS) -lm

# the model file format in both readers: version 2 with the standard FNV-1a 64 (and
# version 1 still read), non-finite weights refused, duch train --bits 8 refused
check_PROGRAMS += tests/model_format
TESTS += tests/model_format.sh
EXTRA_DIST += tests/model_format.sh
tests_model_format_SOURCES = tests/model_format.c tests/model_common.h model/textenc.c model/loader.c \
	model/duch_textenc.h
tests_model_format_LDADD = libduch_modelfile.la libduch_utf8.la $(DL_LIBS) $(PTHREAD_LIBS) -lm

# bounded fuzz test of model parsing (the C text encoder, the model-file reader, the JSON
# reader; the libtorch reader too when the model library loads): deterministic, a few s
check_PROGRAMS += tests/model_fuzz
TESTS += tests/model_fuzz
tests_model_fuzz_SOURCES = tests/model_fuzz.c tests/model_common.h model/textenc.c \
	model/duch_textenc.h
tests_model_fuzz_LDADD = libduch_modelfile.la libduch_utf8.la $(DL_LIBS) -lm
