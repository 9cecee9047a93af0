-- Message deliveries: one row per visit of a MESSAGE node (visit = the stream version of its
-- MessageRequested), written inline with MessageRequested and marked delivered/failed inline with the
-- outcome event. The delivery role claims a row before sending and sends nothing for a finished row.
CREATE TABLE message_deliveries (
    run_id               uuid        NOT NULL,
    node_id              text        NOT NULL,
    visit                integer     NOT NULL CHECK (visit > 0),
    request_event_id     uuid        NOT NULL UNIQUE,
    status               text        NOT NULL CHECK (status IN ('requested', 'sending', 'delivered', 'failed')),
    claims               integer     NOT NULL DEFAULT 0,
    attempts             integer,
    provider_message_id  text,
    reason               text,
    outcome_version      integer,
    claimed_at           timestamptz,
    PRIMARY KEY (run_id, node_id, visit)
);

CREATE INDEX message_deliveries_open ON message_deliveries (claimed_at) WHERE status IN ('requested', 'sending');
