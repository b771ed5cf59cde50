#!/bin/sh
# Runs once, when the PostgreSQL volume is empty (docker-entrypoint-initdb.d): the platform's role
# and one database per service, Temporal's role and its two databases (deploy/compose.yaml).
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v sj_password="$SJ_DB_PASSWORD" -v temporal_password="$TEMPORAL_DB_PASSWORD" <<'SQL'
CREATE ROLE shuangjian LOGIN PASSWORD :'sj_password';
CREATE ROLE temporal LOGIN PASSWORD :'temporal_password';
CREATE DATABASE sj_registry OWNER shuangjian;
CREATE DATABASE sj_escrow OWNER shuangjian;
CREATE DATABASE sj_inspection OWNER shuangjian;
CREATE DATABASE sj_reporting OWNER shuangjian;
CREATE DATABASE sj_gateway OWNER shuangjian;
CREATE DATABASE temporal OWNER temporal;
CREATE DATABASE temporal_visibility OWNER temporal;
SQL
