-- The service's two roles and its database, for psql (idempotent). Used by `pjs services up` and by the
-- docker-compose init script; the caller sets :migrator_password and :app_password.
--   pjs_migrator owns database pjs (and so its public schema): it runs migrations and rebuilds (DDL).
--   pjs_app is what every process role uses: no superuser, owns nothing, gets DML through the grants the
--   migrator gives it after each migration (events/schema.py, grant_to_application).
\set ON_ERROR_STOP on
SELECT 'CREATE ROLE pjs_migrator' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pjs_migrator')
\gexec
SELECT 'CREATE ROLE pjs_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pjs_app')
\gexec
ALTER ROLE pjs_migrator WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'migrator_password';
ALTER ROLE pjs_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'app_password';
SELECT 'CREATE DATABASE pjs OWNER pjs_migrator' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pjs')
\gexec
