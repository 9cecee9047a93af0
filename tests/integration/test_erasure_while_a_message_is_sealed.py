"""A patient erased between the engine opening their context and sealing the message it rendered from it:
the message is not sealed with a new key (which would file the erased patient again) but recorded as failed
for want of the patient's data."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from domain.decider import PATIENT_DATA_UNAVAILABLE
from engine.message_rendering import MessageRenderer, RunMessages
from events.catalogue import MessageRequested
from events.tenancy import DEFAULT_TENANT_ID
from pjs.settings import Settings
from pjs.wiring import patient_vault
from support.journeys import patient


async def test_a_message_for_a_patient_erased_since_their_context_was_opened_fails_and_files_no_key(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    vault = patient_vault(pool, settings)
    context = patient(patient_id="olga")
    sealed = await vault.seal_context(context)  # the run's context, opened by the engine before the erasure
    await vault.keys.destroy(vault.patient(DEFAULT_TENANT_ID, "olga"), datetime.now(UTC))
    requested = MessageRequested(node_id="hello", message="Hello {{ patient.id }}")

    [events] = await MessageRenderer(vault, "log").seal_requests_many(
        [RunMessages([requested], context, sealed.key_id)]
    )

    [failed] = events
    assert isinstance(failed, MessageRequested)
    assert failed.message is None and failed.failure == PATIENT_DATA_UNAVAILABLE
    live = await pool.fetchval("SELECT count(*) FROM patient_keys WHERE destroyed_at IS NULL")
    assert live == 0  # no key made for the erased patient


async def test_a_legacy_clear_context_still_gets_its_patients_key_for_its_messages(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    vault = patient_vault(pool, settings)
    requested = MessageRequested(node_id="hello", message="Hello {{ patient.id }}")

    [[sealed]] = await MessageRenderer(vault, "log").seal_requests_many(
        [RunMessages([requested], patient(patient_id="pia"), None)]
    )

    assert isinstance(sealed, MessageRequested) and sealed.failure is None
    assert await vault.open_texts({1: sealed.message}) == {1: "Hello pia"}  # type: ignore[dict-item]
