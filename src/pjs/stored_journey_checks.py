"""The stored journey versions whose messages would fail here: templates outside the bounds, channels unset.

A stored version is not held again to the rules of a save (a rule added since must not strand its runs),
so these checks read every version of every tenant, as the workers' role: `pjs journeys check` lists what
they find, and the delivery role warns once at its start of versions naming a channel it cannot send by.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import orjson

from domain.message_validation import unbounded_template_problems, unsendable_channel_problems
from events.pg import Queryable

log = logging.getLogger("pjs")

ProblemKind = Literal["template", "channel"]


@dataclass(frozen=True)
class StoredVersion:
    """One journey version as stored: its tenant's name (else id), and its definition as JSON."""

    tenant: str
    journey_id: UUID
    version: int
    definition: dict[str, Any]


@dataclass(frozen=True)
class StoredJourneyProblem:
    """One thing in one stored version that fails its messages: which kind, where, and why (the construct or
    the channel, never a template's text)."""

    tenant: str
    journey_id: UUID
    version: int
    kind: ProblemKind
    path: str
    reason: str


async def stored_versions(db: Queryable) -> list[StoredVersion]:
    """Every journey version of every tenant (its name, else its id), by tenant, journey and version."""
    rows = await db.fetch(
        "SELECT coalesce(t.name, j.tenant_id::text) AS tenant, j.journey_id, j.version,"
        " j.definition::text AS definition"
        " FROM journeys j LEFT JOIN tenants t USING (tenant_id) ORDER BY t.name, j.journey_id, j.version"
    )
    return [
        StoredVersion(row["tenant"], row["journey_id"], row["version"], orjson.loads(row["definition"]))
        for row in rows
    ]


async def stored_journey_problems(db: Queryable, unsendable: Mapping[str, str]) -> list[StoredJourneyProblem]:
    """Each version's templates outside the bounds, then its MESSAGE nodes naming a channel of `unsendable`
    (channel -> the setting that would configure it), with the reasons the API gives at save."""
    return [problem for stored in await stored_versions(db) for problem in _problems_of(stored, unsendable)]


def _problems_of(stored: StoredVersion, unsendable: Mapping[str, str]) -> list[StoredJourneyProblem]:
    kinds: tuple[tuple[ProblemKind, list[tuple[str, str]]], ...] = (
        ("template", unbounded_template_problems(stored.definition)),
        ("channel", unsendable_channel_problems(stored.definition, unsendable)),
    )
    return [
        StoredJourneyProblem(stored.tenant, stored.journey_id, stored.version, kind, path, reason)
        for kind, problems in kinds
        for path, reason in problems
    ]


async def warn_of_unsendable_journeys(db: Queryable, unsendable: Mapping[str, str]) -> None:
    """One WARNING naming each channel of `unsendable` that stored versions send by, how many versions and
    the setting it needs (no journey's content, no patient's data): told at the start, not by failures."""
    if not unsendable:
        return
    versions = await stored_versions(db)
    naming = {
        channel: sum(1 for one in versions if unsendable_channel_problems(one.definition, {channel: setting}))
        for channel, setting in unsendable.items()
    }
    found = [
        f"{channel} in {count} (set {unsendable[channel]})" for channel, count in naming.items() if count
    ]
    if found:
        log.warning(
            "stored journey versions send by a channel this delivery role has no endpoint for: %s; their"
            ' messages fail ("channel ... is not configured") until it is set or a new version drops the'
            " channel; `pjs journeys check` lists them",
            ", ".join(found),
        )
