"""What the API's and the workers' database roles may do on each table (docs/architecture.md, "Roles").

The schema owner (the migration DSN's role) owns every table and so may do anything; it is also the role
that issues keys and creates tenants (`pjs keys`, `pjs tenants`). The API's role may read what a request
reads and write only what a request writes: never a tenant, a key (but its last use), or a table only the
workers write. The workers' role writes the pipeline's tables and never touches keys or sessions.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import Enum

import asyncpg


class Duty(Enum):
    """What a role connects for; one role may serve both (PJS_WORKER_DATABASE_URL unset)."""

    API = "api"
    WORKERS = "workers"


READ = ("SELECT",)
APPEND = ("SELECT", "INSERT")
WRITE = ("SELECT", "INSERT", "UPDATE", "DELETE")
_SESSION_COLUMNS = "session_hash, key_id, subject, tenant_id, scopes, expires_at"  # never created_at


@dataclass(frozen=True)
class TableAccess:
    api: tuple[str, ...]
    workers: tuple[str, ...]

    def of(self, duties: Collection[Duty]) -> tuple[str, ...]:
        """The privileges a role with these duties needs: those of each duty, once."""
        granted = (
            *(self.api if Duty.API in duties else ()),
            *(self.workers if Duty.WORKERS in duties else ()),
        )
        return tuple(dict.fromkeys(granted))


_BY_ACCESS: dict[tuple[str, ...], TableAccess] = {
    # Who may call. Authentication reads keys and tenants; only the owner creates, changes or revokes one.
    ("tenants",): TableAccess(api=READ, workers=READ),
    ("api_keys",): TableAccess(api=("SELECT", "UPDATE (last_used_at)"), workers=()),
    # A sign-in stores its session, a sign-out deletes it; its start is always now() (migration 0028).
    ("ui_sessions",): TableAccess(api=("SELECT", f"INSERT ({_SESSION_COLUMNS})", "DELETE"), workers=()),
    ("schema_migrations",): TableAccess(api=READ, workers=READ),
    # Append-only: rows are added, never changed or removed (a journey's change is a new version).
    ("events", "audit_log", "audit_log_runs", "journeys"): TableAccess(api=APPEND, workers=APPEND),
    # Written in the API's own transactions too: the inline projections of its appends (a trigger, a
    # cancel), delivery receipts, patient keys (a trigger, an erasure), its process's heartbeat.
    ("run_status", "delays", "message_deliveries", "patient_keys", "role_heartbeats"): TableAccess(
        api=WRITE, workers=WRITE
    ),
    # Written by the workers only (projector, relay, consumer groups, dead letters); the API may read them.
    (
        "run_timeline",
        "journey_stats",
        "journey_stats_progress",
        "dead_letters",
        "parked_events",
        "feed_checkpoints",
        "projector_offsets",
    ): TableAccess(api=READ, workers=WRITE),
}

TABLES: dict[str, TableAccess] = {table: access for tables, access in _BY_ACCESS.items() for table in tables}
"""Every table of the schema, with what each duty may do on it."""


async def grant_to_application(connection: asyncpg.Connection, role: str, duties: Collection[Duty]) -> None:
    """Give `role` exactly the privileges its duties need on each table in `TABLES`, taking back any other
    (table or column). It owns nothing, so it can run no DDL and disable no trigger.

    Idempotent; run after every migration as the owner. A table a migration adds without an entry here
    is granted to nobody (tests/integration/test_database_roles.py names it). Tables created later (a
    rebuild's) get no default privileges: a rebuild copies the live table's (`copy_privileges`, 0028).
    Grants live in the database, so a database copied from this one as a template keeps them.
    """
    grantee = '"' + role.replace('"', '""') + '"'
    async with connection.transaction():
        await connection.execute(
            f"""
            GRANT USAGE ON SCHEMA public TO {grantee};
            GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {grantee};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {grantee};
            ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {grantee};
            """
        )
        existing = {row["relname"] for row in await connection.fetch(_TABLES_IN_SCHEMA)}
        for table, access in TABLES.items():
            if table not in existing:
                continue
            # REVOKE ALL on a table takes back its columns' privileges too.
            statements = [f"REVOKE ALL ON {table} FROM {grantee}"]
            if privileges := access.of(duties):
                statements.append(f"GRANT {', '.join(privileges)} ON {table} TO {grantee}")
            await connection.execute(";".join(statements))


_TABLES_IN_SCHEMA = """
    SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""
