"""The append's one statement: the call of `append_events` and the writes that go with it in its round trip.

A write alongside the append (a new run's status row, say) is one data-modifying statement of its own SQL
and parameters. It reads the runs the append wrote (not those in conflict) from the CTE
`written_runs(run_id, tenant_id)`, so it writes exactly when the append does, in the same transaction and
the same round trip as the events. It reads nothing else: every part of the statement sees the snapshot
taken before `append_events` took its locks, so a table read there could be stale.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from events.catalogue import RecordedEvent
    from events.pg import Connection
    from events.store import AppendRequest

_PARAMETER = re.compile(r"\$(\d+)")

WRITTEN_RUNS = "written_runs"
"""The CTE a write alongside the append reads: `run_id` and `tenant_id` of every run the append wrote."""


@dataclass(frozen=True)
class AlongsideWrite:
    """One INSERT, UPDATE or DELETE that joins `written_runs`, with its own parameters `$1`, `$2`, ... in
    `sql` (numbered from 1, as if it were sent alone) and their values in `args`."""

    sql: str
    args: tuple[Any, ...]


@runtime_checkable
class ProjectsAlongside(Protocol):
    """An inline projection that can write some batches' rows in the append's own statement (a round trip
    fewer), where they follow from the requests alone: `alongside` gives that write, or None for the
    projection to run after the append as any other."""

    async def __call__(self, connection: Connection, events: Sequence[RecordedEvent]) -> None: ...

    def alongside(self, requests: Sequence[AppendRequest]) -> AlongsideWrite | None: ...


_APPEND_CALL = (
    "SELECT * FROM append_events($1::uuid[], $2::int[], $3::uuid[], $4::bigint[], $5::uuid[], $6::uuid[],"
    " $7::int[], $8::text[], $9::int[], $10::text[], $11::text[], $12::timestamptz[], $13, $14)"
)


def append_statement(append_args: Sequence[Any], writes: Sequence[AlongsideWrite]) -> tuple[str, list[Any]]:
    """The statement and arguments that call `append_events` (migration 0023) with `append_args` and run
    every write, in one round trip; it answers the function's rows."""
    if not writes:
        return _APPEND_CALL, list(append_args)
    args = list(append_args)
    parts = [
        f"WITH appended AS MATERIALIZED ({_APPEND_CALL}),",
        f" {WRITTEN_RUNS} AS (SELECT DISTINCT out_run_id AS run_id, out_tenant_id AS tenant_id"
        " FROM appended WHERE out_event_id IS NOT NULL)",
    ]
    for index, write in enumerate(writes):
        parts.append(f", alongside_{index} AS ({_renumbered(write, len(args))})")
        args.extend(write.args)
    parts.append(" SELECT * FROM appended")
    return "".join(parts), args


def _renumbered(write: AlongsideWrite, offset: int) -> str:
    numbers = {int(number) for number in _PARAMETER.findall(write.sql)}
    if numbers != set(range(1, len(write.args) + 1)):
        raise ValueError(
            f"a write alongside an append uses parameters {sorted(numbers)} for {len(write.args)} values"
        )
    return _PARAMETER.sub(lambda parameter: f"${int(parameter.group(1)) + offset}", write.sql)
