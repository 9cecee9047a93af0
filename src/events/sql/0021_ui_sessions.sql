-- Sessions of the run explorer (/ui): signed in with an API key, held in a cookie. Only a SHA-256 of the
-- session id is kept, so a copy of this table cannot be replayed as a cookie. Looked up before the tenant
-- is known (like api_keys), so not scoped by row-level security; the key's row names the tenant.
CREATE TABLE ui_sessions (
    session_hash  bytea       PRIMARY KEY,
    key_id        text        NOT NULL REFERENCES api_keys (key_id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);

CREATE INDEX ui_sessions_by_expiry ON ui_sessions (expires_at);
