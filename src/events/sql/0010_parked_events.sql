-- Events the relay could not publish because of the record itself (too large for Kafka, not encodable):
-- set aside here, in the transaction that moves the relay's checkpoint past them, so the feed flows on.
-- The payload stays in `events`; this row says which event it was and why it was parked.
CREATE TABLE parked_events (
    position    bigint      PRIMARY KEY,  -- the event's position in `events`
    event_id    uuid        NOT NULL UNIQUE,
    run_id      uuid        NOT NULL,
    version     integer     NOT NULL,
    type        text        NOT NULL,
    reason      text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now()
);
