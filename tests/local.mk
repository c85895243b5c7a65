# tests/ rules shared by all modules (module tests are registered in each module's local.mk)
TESTS += tests/headers_c.sh tests/cli_basic.sh
EXTRA_DIST += tests/headers_c.sh tests/cli_basic.sh
TESTS += tests/cli_index_resume.sh
EXTRA_DIST += tests/cli_index_resume.sh
TESTS += tests/qgis_archive.sh
EXTRA_DIST += tests/qgis_layers.py tests/qgis_archive.sh
TESTS += tests/cli_index_scenes.sh
EXTRA_DIST += tests/cli_index_scenes.sh
TESTS += tests/cli_archive_safety.sh tests/cli_index_chunks.sh
EXTRA_DIST += tests/cli_archive_safety.sh tests/cli_index_chunks.sh
