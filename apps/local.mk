# apps/ rules (included from the top Makefile.am)
duch_SOURCES += apps/cmd_index.c
duch_SOURCES += apps/cmd_query.c
duch_SOURCES += apps/cmd_optimize.c
duch_SOURCES += apps/cmd_info_archive.c
