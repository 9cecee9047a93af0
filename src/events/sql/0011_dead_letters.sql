-- Records a consumer group could not decode or handle, kept as they were on the topic, with the reason.
-- One row per (group, record): a group that reads the same record again after a crash adds nothing.
CREATE TABLE dead_letters (
    dead_letter_id  bigserial   PRIMARY KEY,
    consumer_group  text        NOT NULL,
    topic           text        NOT NULL,
    partition       integer     NOT NULL,
    record_offset   bigint      NOT NULL,
    record_key      bytea,
    record_value    bytea,
    header_names    text[]      NOT NULL,
    header_values   bytea[]     NOT NULL,
    error_type      text        NOT NULL,
    reason          text        NOT NULL,  -- a fixed phrase: exception messages can quote patient data
    dead_at         timestamptz NOT NULL DEFAULT now(),
    status          text        NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'retried')),
    retried_at      timestamptz,
    UNIQUE (consumer_group, topic, partition, record_offset)
);

CREATE INDEX dead_letters_waiting ON dead_letters (consumer_group) WHERE status = 'waiting';
