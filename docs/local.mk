# docs/ rules (included from the top Makefile.am)
dist_man_MANS += docs/duch.1 docs/duch-index.1 docs/duch-query.1 docs/duch-optimize.1 docs/duch-aliases.1 docs/duch-calibrate.1
dist_doc_DATA += docs/scale.md docs/heatmap.md
