-- duch--0.1.0.sql: the SQL functions of mod_duch inside PostgreSQL (pg/duch_pg.c).
\echo Use "CREATE EXTENSION duch" to load this file. \quit

CREATE FUNCTION duch_version() RETURNS text
  AS 'MODULE_PATHNAME', 'pg_duch_version' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION duch_hamming(a bytea, b bytea) RETURNS int
  AS 'MODULE_PATHNAME', 'pg_duch_hamming' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- the code of a text, with the model stored in the archive (duch_model)
CREATE FUNCTION duch_text_code(query text) RETURNS bytea
  AS 'MODULE_PATHNAME', 'pg_duch_text_code' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- which words the model used, mapped or ignored
CREATE FUNCTION duch_text_explain(query text) RETURNS json
  AS 'MODULE_PATHNAME', 'pg_duch_text_explain' LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;

-- the k nearest tiles: ascending distance, ties by ascending tile_id; confidence for a text
CREATE FUNCTION duch_knn(query text, k int, minx float8 DEFAULT NULL, miny float8 DEFAULT NULL,
                         maxx float8 DEFAULT NULL, maxy float8 DEFAULT NULL)
  RETURNS TABLE (tile_id bigint, distance int, confidence float8)
  AS 'MODULE_PATHNAME', 'pg_duch_knn' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;

CREATE FUNCTION duch_knn(query bytea, k int, minx float8 DEFAULT NULL, miny float8 DEFAULT NULL,
                         maxx float8 DEFAULT NULL, maxy float8 DEFAULT NULL)
  RETURNS TABLE (tile_id bigint, distance int, confidence float8)
  AS 'MODULE_PATHNAME', 'pg_duch_knn' LANGUAGE C STABLE PARALLEL RESTRICTED ROWS 10;

-- the box of a geometry (its exact bounding box, in lon/lat)
CREATE FUNCTION duch_knn(query text, k int, box geometry)
  RETURNS TABLE (tile_id bigint, distance int, confidence float8)
  LANGUAGE sql STABLE PARALLEL RESTRICTED ROWS 10
  AS $$ SELECT * FROM duch_knn($1, $2, ST_XMin($3::box3d), ST_YMin($3::box3d),
                               ST_XMax($3::box3d), ST_YMax($3::box3d)) $$;

CREATE FUNCTION duch_knn(query bytea, k int, box geometry)
  RETURNS TABLE (tile_id bigint, distance int, confidence float8)
  LANGUAGE sql STABLE PARALLEL RESTRICTED ROWS 10
  AS $$ SELECT * FROM duch_knn($1, $2, ST_XMin($3::box3d), ST_YMin($3::box3d),
                               ST_XMax($3::box3d), ST_YMax($3::box3d)) $$;

-- what this session keeps packed (for duch info and the benchmark)
CREATE FUNCTION duch_cache_info() RETURNS json
  AS 'MODULE_PATHNAME', 'pg_duch_cache_info' LANGUAGE C VOLATILE PARALLEL RESTRICTED;
