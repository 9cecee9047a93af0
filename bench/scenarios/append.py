"""`append`: events/s through `pjs.wiring.event_store` (inline run_status and delay projections included).

Each run's RunStarted is sealed inside the timed append, as the trigger does: the patient's data key is
made (or read) in the key store and the context encrypted before the event is appended.
"""

from __future__ import annotations

from collections.abc import Sequence

import asyncpg

from bench import workload
from bench.ceilings import postgres
from bench.errors import BenchFailure
from bench.measure import rate, run_workers, share
from bench.scenario import Figures, Scenario, ScenarioContext
from engine.write_models import INLINE_PROJECTIONS
from events.catalogue import NewEvent, RunStarted
from events.key_ring import load_key_ring
from events.patient_keys import PostgresPatientKeys
from events.patient_vault import PatientVault
from events.store import ConcurrencyConflict, PostgresEventStore
from pjs.wiring import event_store


async def _sealed(vault: PatientVault, batch: list[NewEvent]) -> list[NewEvent]:
    first = batch[0]
    if not isinstance(first.event, RunStarted) or not isinstance(first.event.patient_context, dict):
        return batch
    sealed = await vault.seal_context(first.event.patient_context)
    event = first.event.model_copy(update={"patient_context": sealed})
    return [first.model_copy(update={"event": event}), *batch[1:]]


async def _appends_per_s(
    store: PostgresEventStore,
    vault: PatientVault,
    writers: int,
    batches: Sequence[list[NewEvent]],
    limit: float,
) -> float:
    """Events/s for `writers` tasks, each appending its share of the batches to new runs (at version 0)."""

    async def append(batch: list[NewEvent]) -> None:
        outcome = await store.append(batch[0].run_id, 0, await _sealed(vault, batch))
        if isinstance(outcome, ConcurrencyConflict):
            raise BenchFailure(f"unexpected conflict on a fresh run: {outcome}")

    seconds = await run_workers(writers, batches, append, limit)
    return rate(sum(len(batch) for batch in batches), seconds)


async def run(context: ScenarioContext) -> Figures:
    sizes, box = context.config.sizes, context.sandbox
    pg_rows = context.earlier_figure("raw", "pg_insert_rows_per_s")
    pg_single = context.earlier_figure("raw", "pg_insert_single_rows_per_s")
    ceiling_source = "raw"
    if pg_rows is None or pg_single is None:  # run alone: measure the ceiling first, in this database
        ceiling = await postgres.measure(box.migration_database_url, sizes)
        pg_rows, pg_single, ceiling_source = ceiling.rows_per_s, ceiling.single_rows_per_s, "append"

    batched = workload.batches("append", sizes.append_events // sizes.batch_events, sizes.batch_events)
    singles = workload.batches("append-single", sizes.single_appends, 1)
    writers = sizes.writers
    async with asyncpg.create_pool(box.worker_database_url, min_size=writers, max_size=writers) as pool:
        store, ring = event_store(pool), load_key_ring(box.master_key_file)
        vault = PatientVault(PostgresPatientKeys(pool, ring), ring)
        events_per_s = await _appends_per_s(store, vault, sizes.writers, batched, sizes.phase_seconds)
        singles_per_s = await _appends_per_s(store, vault, sizes.writers, singles, sizes.phase_seconds)
        stored = await pool.fetchval("SELECT count(*) FROM events")
    expected = sum(len(batch) for batch in batched) + len(singles)
    if stored != expected:
        raise BenchFailure(f"the store holds {stored} events, {expected} were appended")
    return {
        "events_per_s": events_per_s,
        "single_event_appends_per_s": singles_per_s,
        "share_of_raw": share(events_per_s, pg_rows) or 0.0,
        "single_share_of_raw": share(singles_per_s, pg_single) or 0.0,
        "mean_payload_bytes": round(workload.mean_payload_bytes([e for b in batched[:200] for e in b]), 1),
        "ceiling_measured_in": ceiling_source,
        "patient_context": "sealed (AES-256-GCM, a data key per patient)",
        "inline_projections": ", ".join(p.__module__.rsplit(".", 1)[-1] for p in INLINE_PROJECTIONS),
    }


SCENARIO = Scenario(
    "append", "16 writers appending 5-event and 1-event batches through the event store, vs raw INSERTs", run
)
