-- A run explorer session opened by signing in with the clinic's identity provider stands for the access
-- token the sign-in brought: its tenant, subject and scopes are kept with the session, which ends no
-- later than the token would (a token cannot be revoked here). A session stands for a key or a token.
ALTER TABLE ui_sessions
    ALTER COLUMN key_id DROP NOT NULL,
    ADD COLUMN tenant_id uuid REFERENCES tenants (tenant_id) ON DELETE CASCADE,
    ADD COLUMN subject   text,
    ADD COLUMN scopes    text[],
    ADD CONSTRAINT ui_sessions_stand_for_a_key_or_a_token CHECK (
        (key_id IS NOT NULL AND subject IS NULL AND tenant_id IS NULL AND scopes IS NULL)
        OR (key_id IS NULL AND subject IS NOT NULL AND tenant_id IS NOT NULL AND scopes IS NOT NULL)
    );
