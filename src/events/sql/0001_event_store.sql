-- The event store: one row per run event, immutable once written.
-- position is the global insertion order; transaction_id orders the gapless feed (see events/feed.py).
CREATE TABLE events (
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL UNIQUE,
    run_id          uuid        NOT NULL,
    version         integer     NOT NULL CHECK (version > 0),
    type            text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL,
    UNIQUE (run_id, version)
);

CREATE INDEX events_feed_order ON events (transaction_id, position);

-- Events never change (invariant 1): refuse UPDATE on the table at the database level.
CREATE FUNCTION refuse_event_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % on events is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER events_are_immutable BEFORE UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION refuse_event_update();

-- Each feed consumer that reads from Postgres (the Kafka relay, replays) keeps its place here.
CREATE TABLE feed_checkpoints (
    consumer        text PRIMARY KEY,
    transaction_id  xid8    NOT NULL DEFAULT '0'::xid8,
    position        bigint  NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
