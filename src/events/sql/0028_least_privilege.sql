-- Least privilege for the API's and the workers' roles. Which role may do what on each table is granted
-- after every migration by events/grants.py (this file cannot know the roles' names); the API's role may
-- no longer create or change a tenant or a key, nor write what only the workers write. Two helpers here.

-- A table a rebuild creates (CREATE TABLE ... LIKE copies no privileges, and the owner's tables get no
-- default privileges any more) is given the live table's grants, table and column level, so swapping it
-- in neither widens nor narrows what any role may do. Run by the owner, in the rebuild (projections/replay.py).
CREATE FUNCTION copy_privileges(source regclass, target regclass) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    granted record;
BEGIN
    FOR granted IN
        SELECT DISTINCT a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = target AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('REVOKE ALL ON %s FROM %s', target, grantee_name(granted.grantee));
    END LOOP;
    FOR granted IN
        SELECT a.privilege_type, a.grantee FROM pg_class c, aclexplode(c.relacl) a
        WHERE c.oid = source AND a.grantee <> c.relowner
    LOOP
        EXECUTE format('GRANT %s ON %s TO %s', granted.privilege_type, target, grantee_name(granted.grantee));
    END LOOP;
    FOR granted IN
        SELECT a.privilege_type, a.grantee, att.attname FROM pg_attribute att, aclexplode(att.attacl) a
        WHERE att.attrelid = source AND NOT att.attisdropped
    LOOP
        EXECUTE format('GRANT %s (%I) ON %s TO %s', granted.privilege_type, granted.attname, target,
                       grantee_name(granted.grantee));
    END LOOP;
END;
$$;

-- aclexplode's grantee as GRANT and REVOKE name it (0 is PUBLIC).
CREATE FUNCTION grantee_name(grantee oid) RETURNS text LANGUAGE sql STABLE
    AS $$ SELECT CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE grantee::regrole::text END $$;

-- The API's role may open run explorer sessions (a sign-in must), but not date one: created_at is always
-- the insert's now() (it holds no INSERT privilege on that column), and no session lasts longer than the
-- longest sign-in PJS_UI_SESSION_MINUTES allows, a week. So a session written by a flaw in the API ends
-- within a week, unlike a key. NOT VALID: rows from before are not checked (none can be longer anyway).
ALTER TABLE ui_sessions ADD CONSTRAINT ui_sessions_last_a_week_at_most
    CHECK (expires_at <= created_at + interval '7 days') NOT VALID;
