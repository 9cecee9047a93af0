-- Asynchronous read models fed by the projector group from Kafka (and rebuildable from the feed).

-- Every event of a run, in order: what GET /journeys/runs/{runId}/events serves.
CREATE TABLE run_timeline (
    run_id       uuid        NOT NULL,
    version      integer     NOT NULL,
    position     bigint      NOT NULL,
    type         text        NOT NULL,
    node_id      text,
    recorded_at  timestamptz NOT NULL,
    data         jsonb       NOT NULL,
    PRIMARY KEY (run_id, version)
);

-- Funnel counters per journey version and node.
CREATE TABLE journey_stats (
    journey_id          uuid    NOT NULL,
    journey_version     integer NOT NULL,
    node_id             text    NOT NULL,
    entered             bigint  NOT NULL DEFAULT 0,
    completed           bigint  NOT NULL DEFAULT 0,
    failed              bigint  NOT NULL DEFAULT 0,
    cancelled           bigint  NOT NULL DEFAULT 0,
    waiting             bigint  NOT NULL DEFAULT 0,
    messages_requested  bigint  NOT NULL DEFAULT 0,
    messages_delivered  bigint  NOT NULL DEFAULT 0,
    messages_failed     bigint  NOT NULL DEFAULT 0,
    PRIMARY KEY (journey_id, journey_version, node_id)
);

-- The highest version of each run that journey_stats has counted: counters stay exact under redelivery.
CREATE TABLE journey_stats_progress (
    run_id           uuid    PRIMARY KEY,
    journey_id       uuid    NOT NULL,
    journey_version  integer NOT NULL,
    version          integer NOT NULL,
    waiting_node_id  text                -- the DELAY node the run sleeps in, if it does
);

-- Where the projector group is in each partition, written in the same transaction as the rows it covers.
CREATE TABLE projector_offsets (
    consumer_group  text    NOT NULL,
    topic           text    NOT NULL,
    partition       integer NOT NULL,
    next_offset     bigint  NOT NULL,
    PRIMARY KEY (consumer_group, topic, partition)
);
