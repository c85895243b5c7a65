# tiler/ rules (included from the top Makefile.am)
