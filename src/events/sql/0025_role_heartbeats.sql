-- Role heartbeats: every role process records here, every PJS_HEARTBEAT_SECONDS, that it is alive, and each
-- consumer group member how far behind it is and when it last got on; /ready and /metrics read them to
-- name a role that stalled or died. One row per (process, role); a process's graceful stop deletes its
-- rows, and any writer deletes rows nobody has refreshed for an hour.
-- Operational data, not a tenant's (like api_keys and ui_sessions): no tenant_id, no row-level security.
-- The API's and the workers' roles get their DML by the default grants (events/schema.py); rows hold host
-- names, pids and counts only, never a run or a patient.
CREATE TABLE role_heartbeats (
    host            text        NOT NULL,
    pid             integer     NOT NULL,
    role            text        NOT NULL,
    process_roles   text        NOT NULL,  -- every role the process runs: relay+engine
    consumer_group  text,                  -- NULL for a role that is not a consumer group member
    started_at      timestamptz NOT NULL,
    seen_at         timestamptz NOT NULL,  -- the database's clock, so hosts' clocks cannot skew it
    records_behind  bigint,                -- the member's lag plus the records in its batch in flight
    progressed_at   timestamptz,           -- it last handled a batch, or found nothing to do
    PRIMARY KEY (host, pid, role)
);

-- How late the timer is: the oldest delay of any tenant (delays_due index), and how many are due since
-- before `grace` (counted up to 10,000, so a large backlog costs no more). Totals only, as delay_counts().
CREATE FUNCTION overdue_delays(grace interval, OUT oldest_resume_at timestamptz, OUT overdue bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT (SELECT min(resume_at) FROM delays),
                 (SELECT count(*) FROM (SELECT FROM delays WHERE resume_at < now() - grace LIMIT 10000) due) $$;

-- How far the relay is behind: the oldest committed event past the relay's checkpoint in feed order (the
-- events_feed_order index; the same lookup as the relay's own pjs_relay_lag_seconds), and the newest
-- position. Without a checkpoint every event is unpublished. Totals only, across tenants.
CREATE FUNCTION unpublished_events(relay_checkpoint text, OUT oldest_recorded_at timestamptz,
                                   OUT newest_position bigint, OUT published_position bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$
        WITH published AS (
            SELECT coalesce(max(c.transaction_id), '0'::xid8) AS transaction_id,
                   coalesce(max(c.position), 0) AS position
            FROM feed_checkpoints c WHERE c.consumer = relay_checkpoint
        )
        SELECT (SELECT e.recorded_at FROM events e
                WHERE (e.transaction_id, e.position) > (p.transaction_id, p.position)
                ORDER BY e.transaction_id, e.position LIMIT 1),
               (SELECT max(e.position) FROM events e),
               p.position
        FROM published p
    $$;
