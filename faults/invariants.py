"""The invariants checked over every acknowledged run once a fault's backlog has drained.

Each check returns violations as short sentences naming a run (never patient data); none are asserted away.
The reference journey visits each node at most once, so a second MessageRequested or DelayElapsed for the
same (run, node) is a second decision for one visit (a visit is the stream version of its request).
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from faults.load import Acknowledged
from faults.provider import Provider

TERMINAL = ("completed", "failed", "cancelled")
_EXAMPLES = 3  # violations of one kind listed by run; the rest are counted


async def statuses(connection: asyncpg.Connection, runs: Sequence[Acknowledged]) -> dict[str, str]:
    rows = await connection.fetch(
        "SELECT run_id::text AS run_id, status FROM run_status WHERE run_id = ANY($1::uuid[])",
        [run.run_id for run in runs],
    )
    return {row["run_id"]: row["status"] for row in rows}


async def unfinished(connection: asyncpg.Connection, runs: Sequence[Acknowledged]) -> int:
    """Runs not yet terminal, or with a message still to be delivered (its outcome not yet recorded)."""
    count = await connection.fetchval(
        """
        SELECT (SELECT count(*) FROM unnest($1::uuid[]) AS r(run_id)
                WHERE NOT EXISTS (SELECT 1 FROM run_status s WHERE s.run_id = r.run_id
                                  AND s.status IN ('completed', 'failed', 'cancelled')))
             + (SELECT count(*) FROM message_deliveries
                WHERE run_id = ANY($1::uuid[]) AND status IN ('requested', 'sending'))
        """,
        [run.run_id for run in runs],
    )
    return int(count)


async def quiet(connection: asyncpg.Connection) -> bool:
    """Nothing left to do anywhere (runs that were not acknowledged included), and the projector caught up."""
    busy = await connection.fetchval(
        """
        SELECT (SELECT count(*) FROM run_status WHERE status NOT IN ('completed', 'failed', 'cancelled'))
             + (SELECT count(*) FROM message_deliveries WHERE status IN ('requested', 'sending'))
             + (SELECT count(*) FROM events) - (SELECT count(*) FROM run_timeline)
        """
    )
    return int(busy) == 0


async def terminal_states(connection: asyncpg.Connection, runs: Sequence[Acknowledged]) -> list[str]:
    found = await statuses(connection, runs)
    wrong = [
        f"run {run.run_id} is {found.get(run.run_id, 'missing')}, expected {'/'.join(sorted(run.expected))}"
        for run in runs
        if found.get(run.run_id) not in run.expected
    ]
    return _summarise("terminal state", wrong)


async def repeated_decisions(connection: asyncpg.Connection, run_ids: list[str]) -> list[str]:
    rows = await connection.fetch(
        """
        SELECT run_id::text AS run_id, type, data->>'node_id' AS node_id, count(*) AS times
        FROM events WHERE run_id = ANY($1::uuid[]) AND type IN ('MessageRequested', 'DelayElapsed')
        GROUP BY run_id, type, data->>'node_id' HAVING count(*) > 1
        """,
        run_ids,
    )
    found = [f"run {r['run_id']}: {r['type']} x{r['times']} at node {r['node_id']}" for r in rows]
    return _summarise("repeated decision", found)


async def early_delays(connection: asyncpg.Connection, run_ids: list[str]) -> list[str]:
    """DelayElapsed fired before its resume_at, or with a resume_at other than its DelayStarted's."""
    rows = await connection.fetch(
        """
        SELECT e.run_id::text AS run_id, e.data->>'fired_at' AS fired_at, s.data->>'resume_at' AS resume_at
        FROM events e JOIN events s ON s.run_id = e.run_id AND s.type = 'DelayStarted'
             AND s.data->>'node_id' = e.data->>'node_id'
        WHERE e.run_id = ANY($1::uuid[]) AND e.type = 'DelayElapsed'
          AND ((e.data->>'fired_at')::timestamptz < (s.data->>'resume_at')::timestamptz
               OR (e.data->>'resume_at')::timestamptz <> (s.data->>'resume_at')::timestamptz)
        """,
        run_ids,
    )
    found = [f"run {r['run_id']}: fired {r['fired_at']} for resume_at {r['resume_at']}" for r in rows]
    return _summarise("early delay", found)


def provider_sends(provider: Provider) -> list[str]:
    """At most one send per (run, node, visit): every request for one message carries the same key."""
    several = provider.messages_under_several_keys()
    found = [
        f"run {run} node {node} visit {visit} under {n} keys"
        for (run, node, visit), n in sorted(several.items())
    ]
    return _summarise("sent twice", found)


async def timelines(connection: asyncpg.Connection, run_ids: list[str]) -> list[str]:
    """Rows of the run_timeline read model that differ from the store's events, either way."""
    rows = await connection.fetch(
        """
        WITH store AS (SELECT run_id, version, position, type, recorded_at FROM events
                       WHERE run_id = ANY($1::uuid[])),
             model AS (SELECT run_id, version, position, type, recorded_at FROM run_timeline
                       WHERE run_id = ANY($1::uuid[]))
        SELECT 'missing from timeline' AS what, run_id::text AS run_id, version
        FROM (SELECT * FROM store EXCEPT SELECT * FROM model) AS missing
        UNION ALL
        SELECT 'not in store', run_id::text, version
        FROM (SELECT * FROM model EXCEPT SELECT * FROM store) AS extra
        ORDER BY run_id, version
        """,
        run_ids,
    )
    return _summarise("timeline", [f"run {r['run_id']} v{r['version']} {r['what']}" for r in rows])


def _summarise(kind: str, found: list[str]) -> list[str]:
    listed = [f"{kind}: {line}" for line in found[:_EXAMPLES]]
    if len(found) > _EXAMPLES:
        listed.append(f"{kind}: {len(found) - _EXAMPLES} more")
    return listed
