-- One writer per run: every append takes a transaction-level advisory lock on each run it writes,
-- keyed by this function (the first 64 bits of the run id), before it checks the run's head.
-- The timer takes the same lock with pg_try_advisory_xact_lock so that it skips a run being written.
CREATE FUNCTION run_lock_key(run_id uuid) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ('x' || left(replace(run_id::text, '-', ''), 16))::bit(64)::bigint $$;
