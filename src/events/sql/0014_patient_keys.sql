-- Crypto-shredding: one data key per patient, wrapped by a master key; destroying it erases the patient.
CREATE TABLE patient_keys (
    key_id         uuid PRIMARY KEY,
    patient_ref    text        NOT NULL,  -- keyed HMAC of the patient id: a pseudonym, never the id itself
    wrapped_key    bytea,                 -- NULL once destroyed
    master_key_id  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    destroyed_at   timestamptz,
    CHECK ((destroyed_at IS NULL) = (wrapped_key IS NOT NULL))
);

-- One live key per patient; a patient triggered again after an erasure gets a new key.
CREATE UNIQUE INDEX patient_keys_live ON patient_keys (patient_ref) WHERE destroyed_at IS NULL;
CREATE INDEX patient_keys_by_patient ON patient_keys (patient_ref);

-- Runs are found by the key their context is sealed with; the clear patient id is no longer kept.
ALTER TABLE run_status ALTER COLUMN patient_id DROP NOT NULL;
ALTER TABLE run_status ALTER COLUMN patient_context DROP NOT NULL;
ALTER TABLE run_status ADD COLUMN patient_key_id uuid;
ALTER TABLE run_status ADD COLUMN erased boolean NOT NULL DEFAULT false;
CREATE INDEX run_status_by_patient_key ON run_status (patient_key_id);
