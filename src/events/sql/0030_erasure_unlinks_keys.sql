-- An erasure unlinks the patient: a destroyed key keeps no patient reference (an HMAC of the patient id under
-- a secret that never rotates), only an erasure reference keyed by the master key current at the erasure,
-- which the next rotation drops (the reference is then computable by nobody) and clears here.
ALTER TABLE patient_keys ALTER COLUMN patient_ref DROP NOT NULL;
ALTER TABLE patient_keys ADD COLUMN erasure_ref text;
ALTER TABLE patient_keys ADD COLUMN erasure_master_key_id text;
-- Keys destroyed before this migration: unlinked now, with no erasure reference (nobody can compute one
-- here), so repeating such an erasure answers 404 like an id the tenant never had.
UPDATE patient_keys SET patient_ref = NULL WHERE destroyed_at IS NOT NULL;
ALTER TABLE patient_keys ADD CONSTRAINT patient_keys_destroyed_unlinked
    CHECK (destroyed_at IS NULL OR patient_ref IS NULL);
ALTER TABLE patient_keys ADD CONSTRAINT patient_keys_live_filed
    CHECK (destroyed_at IS NOT NULL OR patient_ref IS NOT NULL);
CREATE INDEX patient_keys_by_erasure ON patient_keys (erasure_ref) WHERE erasure_ref IS NOT NULL;

-- The reference a live key is filed under is scoped to its tenant: SHA-256 of the tenant id and the
-- service's pseudonym (an HMAC of the patient id under the key ring's secret), so the same patient id in
-- two clinics no longer has one reference, and nobody without the secret can tell they are the same id.
-- Computed here rather than in the service because the pseudonym is all the store is given, and so the
-- keys made before are re-filed by this migration alone. A key filed under the bare pseudonym by a role
-- of the release before, still running during the upgrade, is found all the same (`patient_keys.py`).
CREATE FUNCTION patient_ref_in_tenant(pseudonym text, tenant uuid) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT encode(sha256(convert_to(tenant::text || ':' || pseudonym, 'UTF8')), 'hex') $$;
UPDATE patient_keys SET patient_ref = patient_ref_in_tenant(patient_ref, tenant_id) WHERE destroyed_at IS NULL;
