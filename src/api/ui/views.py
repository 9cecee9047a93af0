"""What each run explorer page shows, gathered through the same queries as the JSON API, in the caller's
tenant. Patient data leaves here masked unless `reveal` is asked for, and that act is audited."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from api.api_keys import Principal
from api.errors import NotFound
from api.reports import search_audit
from api.resources import Resources, TenantBackends
from api.schemas import AuditEntryOut
from api.search_schemas import AuditSearchIn
from api.timeline import timeline_entries
from api.ui.graph import GraphLayout, layout
from api.ui.masking import masked_event_data, masked_patient
from domain.run_state import RunState
from engine.journey_repository import StoredJourney
from engine.ports import load_head
from engine.run_status import read_run_counts
from projections.journey_stats import read_stats
from projections.run_timeline import read_page

TIMELINE_LIMIT = 1000


@dataclass(frozen=True)
class TimelineRow:
    type: str
    version: int
    recorded_at: datetime
    node_id: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class RunView:
    """One run as its page shows it."""

    state: RunState
    journey: StoredJourney
    graph: GraphLayout
    patient: dict[str, Any]
    timeline: list[TimelineRow]
    revealed: bool


async def journeys_overview(resources: Resources, principal: Principal) -> list[dict[str, Any]]:
    """Every journey of the tenant with its latest version and its runs by status (all versions)."""
    async with resources.for_tenant(principal) as scope:
        summaries = await scope.journeys.list_journeys()
        overview = []
        for summary in summaries:
            totals: Counter[str] = Counter()
            for by_status in (await read_run_counts(scope.db, summary.journey_id)).values():
                totals.update(by_status)
            overview.append({"summary": summary, "runs": dict(totals)})
    return overview


async def journey_version(
    resources: Resources, principal: Principal, journey_id: UUID, version: int | None
) -> tuple[StoredJourney, int]:
    """The journey version asked for (the latest without one), and the journey's latest version number."""
    async with resources.for_tenant(principal) as scope:
        latest = await scope.journeys.latest(journey_id)
        stored = (
            latest if version is None or latest is None else await scope.journeys.get(journey_id, version)
        )
    if latest is None or stored is None:
        raise NotFound("That journey version does not exist.")
    return stored, latest.version


async def version_counts(
    resources: Resources, principal: Principal, journey_id: UUID, version: int
) -> dict[str, Any]:
    """The stats projection's counters per node, and the runs per status, of one journey version."""
    async with resources.for_tenant(principal) as scope:
        nodes = (await read_stats(scope.db, journey_id)).get(version, [])
        runs = (await read_run_counts(scope.db, journey_id)).get(version, {})
    return {"nodes": {str(row["node_id"]): row for row in nodes}, "runs": runs}


async def _existing_run(scope: TenantBackends, run_id: UUID) -> RunState:
    state = await load_head(scope.heads, run_id)
    if not state.exists or state.journey_id is None or state.journey_version is None:
        raise NotFound(f"Run {run_id} does not exist.")
    return state


async def run_view(resources: Resources, principal: Principal, run_id: UUID, *, reveal: bool) -> RunView:
    """The run, its journey version, its timeline; patient data masked, or in clear when `reveal`."""
    async with resources.for_tenant(principal) as scope:
        state = await _existing_run(scope, run_id)
        assert state.journey_id is not None and state.journey_version is not None
        journey = await scope.journeys.get(state.journey_id, state.journey_version)
        if journey is None:
            raise NotFound(f"Run {run_id} does not exist.")
        context = None if state.erased else await scope.vault.open_context(state.patient_context)
        entries = await read_page(scope.db, scope.store, run_id, 0, TIMELINE_LIMIT)
        if reveal:
            opened = await timeline_entries(entries, scope.vault)
            timeline = [TimelineRow(e.type, e.version, e.recorded_at, e.node_id, e.data) for e in opened]
            patient: dict[str, Any] = {**masked_patient(context, state.erased), "context": context}
        else:
            timeline = [_masked_row(entry) for entry in entries]
            patient = masked_patient(context, state.erased)
        action = "PatientDataRevealed" if reveal else "RunRead"
        await scope.audit(principal, action, resources.clock(), run_id=run_id, details={"masked": not reveal})
    return RunView(state, journey, layout(journey.definition), patient, timeline, reveal)


async def run_progress(
    resources: Resources, principal: Principal, run_id: UUID, after_version: int
) -> tuple[RunState, list[TimelineRow]]:
    """The run's head and its timeline after `after_version`, masked: what the live run page polls.
    Nothing of the patient is read, so nothing is audited."""
    async with resources.for_tenant(principal) as scope:
        state = await _existing_run(scope, run_id)
        entries = await read_page(scope.db, scope.store, run_id, after_version, TIMELINE_LIMIT)
    return state, [_masked_row(entry) for entry in entries]


def _masked_row(entry: Any) -> TimelineRow:
    return TimelineRow(
        entry.type, entry.version, entry.recorded_at, entry.node_id, masked_event_data(entry.data)
    )


async def journey_names(resources: Resources, principal: Principal) -> dict[UUID, str]:
    """Each journey's id and latest name, for filters and run lists."""
    async with resources.for_tenant(principal) as scope:
        return {summary.journey_id: summary.name for summary in await scope.journeys.list_journeys()}


async def run_audit(resources: Resources, principal: Principal, run_id: UUID) -> list[AuditEntryOut]:
    """Who did what to the run, as GET /audit?runId= answers it (and audits that read likewise)."""
    page = await search_audit(resources, principal, AuditSearchIn(run_id=str(run_id), limit=1000))
    return page.entries
