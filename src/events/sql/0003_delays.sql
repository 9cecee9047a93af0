-- The delay projection: one row per sleeping run, written in the same transaction as DelayStarted and
-- deleted in the same transaction as the event that ends the delay. The timer claims due rows by resume_at.
CREATE TABLE delays (
    run_id            uuid PRIMARY KEY,
    node_id           text        NOT NULL,
    resume_at         timestamptz NOT NULL,
    started_version   integer     NOT NULL
);

CREATE INDEX delays_due ON delays (resume_at);
