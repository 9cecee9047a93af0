-- An append's lock, head check and insert in one round trip (events/store.py calls it).
-- 1. Take each run's write lock (the keys come sorted, so two batches never deadlock).
-- 2. A run whose head is the expected version but was committed by a transaction with a later id than
--    ours would be read after our events by the feed: refuse the whole append with serialization_failure
--    (the store's AppendRaced; it is tried again in a new transaction).
-- 3. Insert the events of every run whose head is the version its request expects; each run's tenant is
--    its head's, else the request's, else the transaction's, else the default one.
-- 4. Answer a row per run that conflicted (its head version) and a row per event written (its position
--    and tenant), and notify the relay if any was written (delivered on commit, once per transaction).
-- In a VOLATILE plpgsql function each statement takes a fresh snapshot, so the heads are read once the
-- locks are held; no other writer can move them before the insert, since every writer takes the locks.
CREATE FUNCTION append_events(
    run_ids uuid[], expected_versions integer[], request_tenants uuid[], lock_keys bigint[],
    event_ids uuid[], event_run_ids uuid[], event_versions integer[], event_types text[],
    event_schema_versions integer[], payloads text[], metadata_texts text[], recorded_ats timestamptz[],
    default_tenant uuid, channel text
)
    RETURNS TABLE (out_run_id uuid, head_version integer, out_event_id uuid, out_position bigint,
                   out_tenant_id uuid)
    LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    heads integer[];
    head_tenants uuid[];
    raced boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(key) FROM unnest(lock_keys) AS key;
    SELECT array_agg(coalesce(h.version, 0) ORDER BY r.ord),
           array_agg(coalesce(h.tenant_id, r.tenant, current_tenant(), default_tenant) ORDER BY r.ord),
           coalesce(bool_or(h.version = r.expected AND h.transaction_id > pg_current_xact_id()), false)
    INTO heads, head_tenants, raced
    FROM unnest(run_ids, expected_versions, request_tenants) WITH ORDINALITY AS r(run_id, expected, tenant, ord)
    LEFT JOIN LATERAL (
        SELECT e.version, e.transaction_id, e.tenant_id FROM events e
        WHERE e.run_id = r.run_id ORDER BY e.version DESC LIMIT 1
    ) h ON true;
    IF raced THEN
        RAISE EXCEPTION 'a run''s head was committed behind this transaction'
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN QUERY
    WITH checked AS (
        SELECT * FROM unnest(run_ids, expected_versions, heads, head_tenants) AS c(run_id, expected, head, tenant)
    ), written AS (
        INSERT INTO events (event_id, run_id, version, type, schema_version, data, metadata, recorded_at,
                            tenant_id)
        SELECT t.event_id, t.run_id, t.version, t.type, t.schema_version, t.data::jsonb, t.metadata::jsonb,
               t.recorded_at, checked.tenant
        FROM unnest(event_ids, event_run_ids, event_versions, event_types, event_schema_versions, payloads,
                    metadata_texts, recorded_ats)
             AS t(event_id, run_id, version, type, schema_version, data, metadata, recorded_at)
        JOIN checked ON checked.run_id = t.run_id AND checked.head = checked.expected
        ORDER BY t.run_id, t.version
        RETURNING events.run_id, events.event_id, events.position, events.tenant_id
    )
    SELECT checked.run_id, checked.head, NULL::uuid, NULL::bigint, NULL::uuid
    FROM checked WHERE checked.head <> checked.expected
    UNION ALL
    SELECT written.run_id, NULL::integer, written.event_id, written.position, written.tenant_id FROM written;
    IF EXISTS (
        SELECT 1 FROM unnest(run_ids, expected_versions, heads) AS c(run_id, expected, head)
        WHERE c.head = c.expected AND c.run_id = ANY(event_run_ids)
    ) THEN
        PERFORM pg_notify(channel, '');
    END IF;
END;
$$;
