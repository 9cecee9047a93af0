-- The audit log is read in feed order (events/feed.py): by (transaction id, audit id), and only the
-- entries of transactions older than any still running, so an entry that commits after one with a higher
-- id can never land behind a reader's cursor. The ids of rows from before are unknown: they all get 0, a
-- constant default that needs no rewrite (the append-only triggers refuse UPDATEs), and so stay first, in
-- audit id order, as they were read until now.
ALTER TABLE audit_log ADD COLUMN transaction_id xid8 NOT NULL DEFAULT '0'::xid8;
ALTER TABLE audit_log ALTER COLUMN transaction_id SET DEFAULT pg_current_xact_id();

-- A tenant's log in that order (reads by run or patient sort their few rows instead).
DROP INDEX audit_log_by_tenant;
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, transaction_id, audit_id);

-- An act on many runs at once (a listing, a bulk trigger, an erasure) is one entry naming its runs in
-- details.runs; each run it names gets a row here, in the same statement, so the entry is found by any of
-- them. A side table and not a GIN index on details: under row-level security Postgres uses an index only
-- for leakproof operators; uuid equality is one, no jsonb or array operator is.
CREATE TABLE audit_log_runs (
    run_id     uuid   NOT NULL,
    audit_id   bigint NOT NULL,
    tenant_id  uuid   NOT NULL,
    PRIMARY KEY (run_id, audit_id)
);
SELECT scope_to_tenant('audit_log_runs');
-- The application may only add rows (events/schema.py). Derived from audit_log alone, as the statement
-- that fills it from the entries before this migration shows, it can be rebuilt from it.

CREATE FUNCTION note_audit_runs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log_runs (run_id, audit_id, tenant_id)
    SELECT DISTINCT named.run_id::uuid, NEW.audit_id, NEW.tenant_id  -- a batch may name a run twice
    FROM jsonb_array_elements_text(NEW.details -> 'runs') AS named (run_id);
    RETURN NULL;
END;
$$;

-- Only entries that name runs fire it: the dozen entries each run's events add pay for the WHEN alone.
CREATE TRIGGER audit_log_runs_are_noted AFTER INSERT ON audit_log
    FOR EACH ROW WHEN (jsonb_typeof(NEW.details -> 'runs') = 'array') EXECUTE FUNCTION note_audit_runs();

INSERT INTO audit_log_runs (run_id, audit_id, tenant_id)
SELECT DISTINCT named.run_id::uuid, a.audit_id, a.tenant_id
FROM audit_log a, jsonb_array_elements_text(a.details -> 'runs') AS named (run_id)
WHERE jsonb_typeof(a.details -> 'runs') = 'array';

-- When the entry was written, by the database's clock: not the transaction's start (now()), which comes
-- before the act's own time for every act the API audits in the transaction it runs in.
ALTER TABLE audit_log ALTER COLUMN logged_at SET DEFAULT clock_timestamp();
