-- The audit log: an append-only record of every run event and every journey change.
CREATE TABLE audit_log (
    audit_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    source_id    text        NOT NULL UNIQUE,  -- event id, or journey id + version: redelivery adds nothing
    run_id       uuid,
    patient_id   text,
    journey_id   uuid,
    actor        text        NOT NULL,
    action       text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    logged_at    timestamptz NOT NULL DEFAULT now(),
    details      jsonb       NOT NULL DEFAULT '{}'::jsonb
);

CREATE INDEX audit_log_by_run ON audit_log (run_id, audit_id);
CREATE INDEX audit_log_by_patient ON audit_log (patient_id, audit_id);

-- Append-only for everyone, the application's own role included: rows can be added, never changed.
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % on audit_log is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER audit_log_is_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER audit_log_is_never_truncated BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();

-- Journey changes are written by the API in the journeys table; each new version is audited as it commits.
CREATE FUNCTION audit_journey_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (source_id, journey_id, actor, action, occurred_at, details)
    VALUES ('journey:' || NEW.journey_id || ':' || NEW.version, NEW.journey_id, 'api',
            CASE WHEN NEW.version = 1 THEN 'JourneyCreated' ELSE 'JourneyVersionCreated' END,
            NEW.created_at, jsonb_build_object('version', NEW.version, 'name', NEW.name))
    ON CONFLICT (source_id) DO NOTHING;
    RETURN NEW;
END;
$$;

CREATE TRIGGER journeys_are_audited AFTER INSERT ON journeys
    FOR EACH ROW EXECUTE FUNCTION audit_journey_version();
