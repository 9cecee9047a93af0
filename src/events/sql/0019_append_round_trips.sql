-- An append's first step in one round trip: take each run's write lock (the keys come sorted, so two
-- batches never deadlock), then read each run's head. In a VOLATILE plpgsql function every statement
-- takes a fresh snapshot, so the heads are read once the locks are held, exactly as when the lock and the
-- read were two statements. The first statement of the function also assigns the transaction its id,
-- which the head check compares with the head's (see events/store.py).
CREATE FUNCTION lock_run_heads(run_ids uuid[], lock_keys bigint[])
    RETURNS TABLE (run_id uuid, version integer, tenant_id uuid, written_after_us boolean)
    LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(key) FROM unnest(lock_keys) AS key;
    RETURN QUERY
    SELECT r.run_id, coalesce(h.version, 0), h.tenant_id,
           coalesce(h.transaction_id > pg_current_xact_id(), false)
    FROM unnest(run_ids) AS r(run_id)
    LEFT JOIN LATERAL (
        SELECT e.version, e.transaction_id, e.tenant_id FROM events e
        WHERE e.run_id = r.run_id ORDER BY e.version DESC LIMIT 1
    ) h ON true;
END;
$$;
