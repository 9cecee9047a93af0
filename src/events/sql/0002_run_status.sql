-- Read model: one row per run, the folded RunState, written inline in each append's transaction.
CREATE TABLE run_status (
    run_id             uuid PRIMARY KEY,
    version            integer     NOT NULL,
    status             text        NOT NULL,
    journey_id         uuid        NOT NULL,
    journey_version    integer     NOT NULL,
    current_node_id    text,
    patient_id         text        NOT NULL,
    patient_context    jsonb       NOT NULL,
    resume_at          timestamptz,
    awaiting_decision  boolean     NOT NULL,
    reason             text,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE INDEX run_status_listing ON run_status (created_at, run_id);
CREATE INDEX run_status_by_journey ON run_status (journey_id, created_at, run_id);
CREATE INDEX run_status_by_patient ON run_status (patient_id, created_at, run_id);
CREATE INDEX run_status_by_status ON run_status (status, created_at, run_id);
