-- Tenancy: every row that names a run, a journey, a patient or an audited act belongs to one tenant.
-- Rows from before belong to the tenant "default" (a fixed id, created here if missing).
-- Row-level security binds every role without BYPASSRLS (the API's pjs_app) to the tenant set for the
-- transaction in `pjs.tenant_id`; without that setting such a role sees and writes no row at all.
DO $$
BEGIN
    IF EXISTS (SELECT FROM tenants WHERE name = 'default'
               AND tenant_id <> '00000000-0000-4000-8000-000000000001') THEN
        RAISE EXCEPTION 'a tenant named "default" exists already; rename it before migrating to tenancy';
    END IF;
END;
$$;
INSERT INTO tenants (tenant_id, name) VALUES ('00000000-0000-4000-8000-000000000001', 'default')
ON CONFLICT DO NOTHING;

-- The caller's tenant: the transaction's setting (NULL without one; nullif because a setting set
-- locally once reads as '' in that session afterwards, and ''::uuid would be an error, not "no tenant").
CREATE FUNCTION current_tenant() RETURNS uuid LANGUAGE sql STABLE
    AS $$ SELECT nullif(current_setting('pjs.tenant_id', true), '')::uuid $$;

-- Enables row-level security on a tenant table with its one policy: rows of the current tenant only, for
-- reading and for writing. Also called by replay on the tables it rebuilds (LIKE copies no policy).
-- The owner (pjs_migrator) is not bound (no FORCE): it runs replay across tenants and could lift RLS anyway.
CREATE FUNCTION scope_to_tenant(target regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', target);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %s', target);
    EXECUTE format('CREATE POLICY tenant_isolation ON %s USING (tenant_id = current_tenant())', target);
END;
$$;

-- A constant default fills existing rows without an UPDATE (the events and audit_log triggers refuse
-- those). Afterwards a row takes the writer's tenant unless the writer names one (workers always do, from
-- the run's events): the transaction's under the API, else the default tenant (scripts, the demo's setup).
DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['events', 'run_status', 'delays', 'message_deliveries', 'journeys',
                                'run_timeline', 'journey_stats', 'journey_stats_progress', 'audit_log',
                                'patient_keys', 'dead_letters', 'parked_events'] LOOP
        EXECUTE format('ALTER TABLE %I ADD COLUMN tenant_id uuid NOT NULL'
                       ' DEFAULT ''00000000-0000-4000-8000-000000000001''', name);
        EXECUTE format('ALTER TABLE %I ALTER COLUMN tenant_id SET DEFAULT'
                       ' coalesce(current_tenant(), ''00000000-0000-4000-8000-000000000001'')', name);
        PERFORM scope_to_tenant(name::regclass);
    END LOOP;
END;
$$;

-- A dead letter names its tenant only when the record carried one (an undecodable record may not).
ALTER TABLE dead_letters ALTER COLUMN tenant_id DROP NOT NULL, ALTER COLUMN tenant_id DROP DEFAULT;

-- Patient ids are per clinic: the same id in two tenants is two patients with a key each.
DROP INDEX patient_keys_live;
CREATE UNIQUE INDEX patient_keys_live ON patient_keys (tenant_id, patient_ref) WHERE destroyed_at IS NULL;

-- Listings and audit reads filter by tenant first.
CREATE INDEX journeys_by_tenant ON journeys (tenant_id, journey_id);
CREATE INDEX audit_log_by_tenant ON audit_log (tenant_id, audit_id);

-- Journey versions are audited in their own tenant, naming who acted (pjs.actor, as since 0013).
CREATE OR REPLACE FUNCTION audit_journey_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_log (source_id, journey_id, actor, action, occurred_at, details, tenant_id)
    VALUES ('journey:' || NEW.journey_id || ':' || NEW.version, NEW.journey_id,
            coalesce(nullif(current_setting('pjs.actor', true), ''), 'api'),
            CASE WHEN NEW.version = 1 THEN 'JourneyCreated' ELSE 'JourneyVersionCreated' END,
            NEW.created_at, jsonb_build_object('version', NEW.version, 'name', NEW.name), NEW.tenant_id)
    ON CONFLICT (source_id) DO NOTHING;
    RETURN NEW;
END;
$$;

-- The ops probes (/metrics, /ready) count across tenants without reading a row: these run as their owner
-- (the schema owner, not bound by row-level security) and return totals only.
CREATE FUNCTION delay_counts(OUT pending bigint, OUT overdue bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT count(*), count(*) FILTER (WHERE resume_at < now()) FROM delays $$;

CREATE FUNCTION waiting_dead_letters() RETURNS TABLE (consumer_group text, waiting bigint)
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public
    AS $$ SELECT d.consumer_group, count(*) FROM dead_letters d WHERE d.status = 'waiting'
          GROUP BY d.consumer_group ORDER BY d.consumer_group $$;
