-- The service's three roles and its database, for psql (idempotent). Used by `pjs services up` and by the
-- docker-compose init script; the caller sets :migrator_password, :app_password and :worker_password.
--   pjs_migrator owns database pjs (and so its public schema): it runs migrations and rebuilds (DDL).
--   It is also the one role that creates tenants and issues and revokes keys (`pjs tenants`, `pjs keys`).
--   pjs_app is what the API uses: no superuser, owns nothing, gets the DML its requests need through the
--   grants the migrator gives it after each migration (events/grants.py, grant_to_application; it reads
--   keys and tenants but writes neither), and is bound by row-level security to the tenant the API sets
--   for each transaction.
--   pjs_worker is what the workers use (relay, engine, delivery, timer, projector, audit, analytics): the
--   pipeline's DML, no keys, and BYPASSRLS, since they act for every tenant. Only a superuser can grant
--   BYPASSRLS.
\set ON_ERROR_STOP on
SELECT 'CREATE ROLE pjs_migrator' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pjs_migrator')
\gexec
SELECT 'CREATE ROLE pjs_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pjs_app')
\gexec
SELECT 'CREATE ROLE pjs_worker' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'pjs_worker')
\gexec
ALTER ROLE pjs_migrator WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'migrator_password';
ALTER ROLE pjs_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
    PASSWORD :'app_password';
ALTER ROLE pjs_worker WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION BYPASSRLS
    PASSWORD :'worker_password';
SELECT 'CREATE DATABASE pjs OWNER pjs_migrator' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'pjs')
\gexec
