-- Tenants (clinics) and their API keys. A key is stored only as a SHA-256 hash of its secret.
CREATE TABLE tenants (
    tenant_id   uuid        PRIMARY KEY,
    name        text        NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id        text        PRIMARY KEY,  -- the public part of the key, shown in `pjs keys list` and the audit log
    tenant_id     uuid        NOT NULL REFERENCES tenants (tenant_id),
    scopes        text[]      NOT NULL,
    secret_hash   bytea       NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz  -- refreshed at most once a minute per key, not on every request
);

CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id);

-- Journey versions are audited by a trigger; the writer names who acted in the transaction-local setting
-- pjs.actor (e.g. key:<key id>); a write without it is audited as 'api', as before.
CREATE OR REPLACE FUNCTION audit_journey_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (source_id, journey_id, actor, action, occurred_at, details)
    VALUES ('journey:' || NEW.journey_id || ':' || NEW.version, NEW.journey_id,
            coalesce(nullif(current_setting('pjs.actor', true), ''), 'api'),
            CASE WHEN NEW.version = 1 THEN 'JourneyCreated' ELSE 'JourneyVersionCreated' END,
            NEW.created_at, jsonb_build_object('version', NEW.version, 'name', NEW.name))
    ON CONFLICT (source_id) DO NOTHING;
    RETURN NEW;
END;
$$;
