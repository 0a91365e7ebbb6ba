-- Runs once, when the data volume is initialised, in POSTGRES_DB. The library itself is loaded
-- by shared_preload_libraries (see docker-compose.yml); the DB monitor reads the view.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
