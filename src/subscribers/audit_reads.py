"""Reading the audit log: a tenant's entries by run and/or patient, in feed order, each exactly once.

Entries are served as the feed serves events (`events.feed.FeedOrder`): by (transaction id, audit id), and
only once every write that began before them has ended. Audit ids are taken at insert but become visible
at commit, so paging by id alone could pass an id that a slower transaction then commits.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from events.feed import FEED_START, FeedOrder, FeedPosition, feed_arguments
from events.pg import Queryable

_ENTRIES = FeedOrder("a", "audit_id")


async def audit_position(db: Queryable, audit_id: int) -> FeedPosition | None:
    """Where reading goes on after the entry `audit_id` (0: from the start); None if the caller's tenant
    has no such entry. A cursor is an entry's id, so a reader tailing the log resumes after the last one
    it read."""
    if audit_id == 0:
        return FEED_START
    transaction_id = await db.fetchval(
        "SELECT transaction_id::text::bigint FROM audit_log WHERE audit_id = $1", audit_id
    )
    return None if transaction_id is None else FeedPosition(transaction_id, audit_id)


async def read_audit(
    db: Queryable,
    *,
    run_id: UUID | None,
    patient_id: str | None,
    after: FeedPosition,
    limit: int,
    patient_key_ids: list[UUID] | None = None,
) -> list[asyncpg.Record]:
    """Audit entries after `after`, filtered by run and/or patient.

    An entry is about a run if it names it in `run_id` or in `details.runs` (an act on many runs at once:
    a listing, a bulk trigger, an erasure). Sealed runs are audited without the patient id (run_status no
    longer holds it in clear); they are found by their patient's data keys. Legacy clear runs still match
    on patient_id.
    """
    arguments: list[Any] = [*feed_arguments(after), limit]
    conditions = [_ENTRIES.settled, _ENTRIES.after(1)]
    if run_id is not None:
        arguments.append([run_id])
        conditions.append(_about_runs(f"${len(arguments)}::uuid[]"))
    if patient_id is not None:
        arguments += [patient_id, patient_key_ids or []]
        keys = f"${len(arguments)}::uuid[]"
        runs = f"ARRAY(SELECT s.run_id FROM run_status s WHERE s.patient_key_id = ANY({keys}))"
        conditions.append(f"(a.patient_id = ${len(arguments) - 1} OR {_about_runs(runs)})")
    return await db.fetch(
        f"""
        SELECT audit_id, source_id, run_id, patient_id, journey_id, actor, action, occurred_at, logged_at,
               details::text AS details
        FROM audit_log a
        WHERE {" AND ".join(conditions)}
        ORDER BY {_ENTRIES.order_by}
        LIMIT $3
        """,
        *arguments,
    )


def _about_runs(runs: str) -> str:
    """Entries about any of `runs` (an SQL uuid[]): by their run, or naming it (audit_log_runs)."""
    naming = f"ARRAY(SELECT n.audit_id FROM audit_log_runs n WHERE n.run_id = ANY({runs}))"
    return f"(a.run_id = ANY({runs}) OR a.audit_id = ANY({naming}))"
