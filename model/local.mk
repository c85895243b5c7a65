# model/ rules (included from the top Makefile.am)
# libduch_model.so: the DUCH networks over libtorch, reached through dlopen only.
# Two C++ translation units: duch_torch.cpp includes libtorch (slow to compile),
# duch_data.cpp holds everything that does not need it.
lib_LTLIBRARIES += libduch_model.la
libduch_model_la_SOURCES = model/duch_torch.cpp model/duch_data.cpp model/duch_model_internal.h
libduch_model_la_CPPFLAGS = $(AM_CPPFLAGS) $(TORCH_CPPFLAGS)
libduch_model_la_CXXFLAGS = $(AM_CXXFLAGS) -O2 -Wno-sign-compare
libduch_model_la_LIBADD = $(TORCH_LIBS) $(JPEG_LIBS) $(PTHREAD_LIBS) -lm
libduch_model_la_LDFLAGS = -avoid-version -no-undefined
