#!/bin/bash
# docker-compose's Postgres init script: the same roles and database as `pjs services up` makes
# (roles.sql), with the passwords from the environment.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v migrator_password="$PJS_MIGRATOR_PASSWORD" -v app_password="$PJS_APP_PASSWORD" \
    -v worker_password="$PJS_WORKER_PASSWORD" \
    -f /pjs/roles.sql
