# index/ rules (included from the top Makefile.am)
