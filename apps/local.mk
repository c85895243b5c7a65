# apps/ rules (included from the top Makefile.am)
duch_SOURCES += apps/cmd_index.c
duch_SOURCES += apps/cmd_query.c
duch_SOURCES += apps/cmd_optimize.c
duch_SOURCES += apps/cmd_info_archive.c
# duch aliases: WordNet (libwordnet) at model-making time only
duch_SOURCES += apps/cmd_calibrate.c
duch_SOURCES += apps/cmd_aliases.c model/wn_aliases.c model/duch_wn_aliases.h
duch_LDADD += $(WORDNET_LIBS) libduch_modelfile.la
