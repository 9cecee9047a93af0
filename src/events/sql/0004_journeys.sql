-- Journeys: one row per (journey, version). A version never changes once written; an edit is a new version,
-- and a run stays pinned to the version it started on. `definition` is the journey in the HTTP contract's shape.
CREATE TABLE journeys (
    journey_id  uuid        NOT NULL,
    version     integer     NOT NULL CHECK (version > 0),
    name        text        NOT NULL,
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (journey_id, version)
);

CREATE FUNCTION refuse_journey_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journey versions are immutable: % on journeys is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER journeys_are_immutable BEFORE UPDATE ON journeys
    FOR EACH ROW EXECUTE FUNCTION refuse_journey_update();
