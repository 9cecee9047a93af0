"""Messages on the real stack: the patient's language and clock, DST, quiet hours, email once, receipts."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import httpx
import orjson
import pytest
from pydantic import SecretStr

from api.app import create_app
from domain.run_state import FINISHED_STATUSES, RunStatus
from engine.ports import load_head
from engine.run_status import PostgresRunHeads
from engine.signatures import SIGNATURE_HEADER, sign
from events.catalogue import (
    DelayElapsed,
    DelayStarted,
    MessageDelivered,
    MessageRequested,
    RecordedEvent,
    Sealed,
)
from pjs.settings import Settings
from pjs.wiring import api_resources, event_store
from support.messaging import Mailbox, RecordingChannel, of_type, save, smtp_server, stack_at, trigger
from support.roles import eventually, in_process, role_processes
from support.runs import envelopes, message, run_started

RECEIPT_SECRET = "provider-secret"


async def finished(pool: asyncpg.Pool, run_id: UUID, seconds: float = 30) -> list[RecordedEvent]:
    async def done() -> bool | None:
        state = await load_head(PostgresRunHeads(pool), run_id)
        return True if state.status in FINISHED_STATUSES else None

    await eventually(done, seconds=seconds)
    return await event_store(pool).read_stream(run_id)


async def test_a_spanish_speaking_patient_in_tokyo_gets_the_spanish_text_with_her_name_at_nine(
    settings: Settings, pool: asyncpg.Pool, default_tenant_api: httpx.AsyncClient
) -> None:
    journey_id = await save(
        pool,
        {
            "name": "Morning hello",
            "start_node_id": "morning",
            "nodes": [
                {"id": "morning", "type": "DELAY", "until_local_time": "09:00", "next_node_id": "hello"},
                {
                    "id": "hello",
                    "type": "MESSAGE",
                    "message": "Good morning {{ patient.first_name }}",
                    "translations": {
                        "fr": "Bonjour {{ patient.first_name }}",
                        "es": "Buenos días, {{ patient.first_name }}",
                    },
                    "next_node_id": None,
                },
            ],
        },
    )
    patient = {"id": "p-tokyo", "age": 40, "language": "es", "timezone": "Asia/Tokyo", "first_name": "Lucía"}
    channel = RecordingChannel()
    # 05:00 in Tokyo on 2 March: the next 09:00 there is 00:00 UTC that day.
    async with stack_at(settings, pool, datetime(2026, 3, 1, 20, 0, tzinfo=UTC), channel):
        run_id = await trigger(pool, settings, journey_id, patient)
        stream = await finished(pool, run_id)
        await eventually(lambda: _delivered(pool, run_id), seconds=30)

    [started] = of_type(stream, "DelayStarted")
    assert isinstance(started.event, DelayStarted)
    assert started.event.resume_at == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert started.event.reason == "until_local_time"
    [elapsed] = of_type(stream, "DelayElapsed")
    assert isinstance(elapsed.event, DelayElapsed) and elapsed.event.fired_at >= started.event.resume_at
    [requested] = of_type(stream, "MessageRequested")
    assert isinstance(requested.event, MessageRequested) and isinstance(requested.event.message, Sealed)
    assert requested.event.language == "es"
    [sent] = channel.sent
    assert (sent.message, sent.language) == ("Buenos días, Lucía", "es")
    stored = await pool.fetchval("SELECT string_agg(data::text, ' ') FROM events WHERE run_id = $1", run_id)
    assert "Lucía" not in stored and "Buenos" not in stored  # sealed with her data key

    async def timeline() -> list[dict[str, object]] | None:
        events = (await default_tenant_api.get(f"/journeys/runs/{run_id}/events")).json()["events"]
        return events if any(e["type"] == "MessageRequested" for e in events) else None

    [shown] = [e for e in await eventually(timeline) if e["type"] == "MessageRequested"]
    assert shown["data"]["message"] == "Buenos días, Lucía" and shown["data"]["language"] == "es"


async def test_the_day_before_the_appointment_wait_fires_at_nine_new_york_time_across_the_dst_change(
    settings: Settings, pool: asyncpg.Pool, default_tenant_api: httpx.AsyncClient
) -> None:
    journey_id = await save(
        pool,
        {
            "name": "Day before",
            "start_node_id": "day_before",
            "timezone": "America/New_York",
            "nodes": [
                {
                    "id": "day_before",
                    "type": "DELAY",
                    "until_field": "patient.appointment_at",
                    "offset_seconds": -86400,
                    "at_local_time": "09:00",
                    "next_node_id": "reminder",
                },
                {"id": "reminder", "type": "MESSAGE", "message": "See you tomorrow", "next_node_id": None},
            ],
        },
    )
    channel = RecordingChannel()
    # Clocks spring forward on 8 March 2026 (and 14 March 2027): 09:00 that day is EDT, 13:00 UTC, not 14:00.
    async with stack_at(settings, pool, datetime(2026, 3, 1, 12, 0, tzinfo=UTC), channel):
        past = await trigger(pool, settings, journey_id, _patient("p-ny", "2026-03-09T10:00:00"))
        waiting = await trigger(pool, settings, journey_id, _patient("p-ny2", "2027-03-15T10:00:00"))
        stream = await finished(pool, past)
        status = await eventually(lambda: _waiting_status(default_tenant_api, waiting))

    [started] = of_type(stream, "DelayStarted")
    [elapsed] = of_type(stream, "DelayElapsed")
    assert isinstance(started.event, DelayStarted) and isinstance(elapsed.event, DelayElapsed)
    assert started.event.resume_at == elapsed.event.resume_at == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)
    assert elapsed.event.fired_at >= elapsed.event.resume_at
    assert of_type(stream, "MessageRequested")
    assert datetime.fromisoformat(status["resumeAt"]) == datetime(2027, 3, 14, 13, 0, tzinfo=UTC)


async def test_a_message_due_at_eleven_at_night_waits_for_the_end_of_quiet_hours(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id = await save(
        pool,
        {
            "name": "Quiet",
            "start_node_id": "reminder",
            "timezone": "Europe/Madrid",
            "quiet_hours": {"start": "21:00", "end": "08:00"},
            "nodes": [{"id": "reminder", "type": "MESSAGE", "message": "Recordatorio", "next_node_id": None}],
        },
    )
    channel = RecordingChannel()
    async with stack_at(settings, pool, datetime(2026, 3, 1, 22, 0, tzinfo=UTC), channel):  # 23:00 in Madrid
        run_id = await trigger(pool, settings, journey_id, {"id": "p-m", "age": 30, "language": "es"})
        stream = await finished(pool, run_id)
        await eventually(lambda: _delivered(pool, run_id), seconds=30)

    assert [e.event.type for e in stream[:5]] == [
        "RunStarted",
        "DelayStarted",
        "DelayElapsed",
        "MessageRequested",
        "RunCompleted",
    ]
    wait = stream[1].event
    assert isinstance(wait, DelayStarted) and (wait.node_id, wait.reason) == ("reminder", "quiet_hours")
    assert wait.resume_at == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Madrid
    assert [m.node_id for m in channel.sent] == ["reminder"]


async def test_an_email_reaches_the_smtp_server_once_even_when_delivery_is_killed_mid_send(
    settings: Settings, pool: asyncpg.Pool
) -> None:
    journey_id = await save(
        pool,
        {
            "name": "Email",
            "start_node_id": "letter",
            "nodes": [
                {
                    "id": "letter",
                    "type": "MESSAGE",
                    "message": "<p>Hola {{ patient.first_name }}</p>",
                    "channel": "email",
                    "next_node_id": None,
                }
            ],
        },
    )
    patient = {
        "id": "p-mail",
        "age": 50,
        "language": "es",
        "first_name": "Ana <3",
        "email": "ana@example.org",
    }
    mailbox = Mailbox(hold_first=True)
    with smtp_server(mailbox) as port:
        mail = {
            "message_channel": "email",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "delivery_lease_seconds": 2,
        }
        delivery_settings = settings.model_copy(update=mail)
        async with in_process(settings, "relay", "engine"):
            run_id = await trigger(pool, settings, journey_id, patient)
            with role_processes(delivery_settings, "delivery") as [first]:
                await eventually(lambda: _is_set(mailbox), seconds=60)
                first.kill()  # mid-send: the server has the message but has not answered it
            with role_processes(delivery_settings, "delivery"):
                await eventually(lambda: _delivered(pool, run_id), seconds=90)

    [accepted] = mailbox.accepted
    [requested] = of_type(await event_store(pool).read_stream(run_id), "MessageRequested")
    key = f"{run_id}:letter:{requested.version}"
    assert accepted["Idempotency-Key"] == key and accepted["To"] == "ana@example.org"
    assert accepted["X-Pjs-Delivery-Id"] == str(requested.event_id)
    assert accepted.get_payload(decode=True).decode().strip() == "<p>Hola Ana &lt;3</p>"  # autoescaped HTML
    [delivered] = of_type(await event_store(pool).read_stream(run_id), "MessageDelivered")
    assert isinstance(delivered.event, MessageDelivered)
    assert delivered.event.provider_message_id == accepted["Message-ID"]
    assert mailbox.attempts == 2
    claims = await pool.fetchval("SELECT claims FROM message_deliveries WHERE run_id = $1", run_id)
    assert claims == 2


@pytest.fixture
async def provider_api(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(api_resources(settings.model_copy(update={"receipt_secret": SecretStr(RECEIPT_SECRET)})))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://pjs") as c,
    ):
        yield c


async def test_a_signed_receipt_becomes_message_delivered_once_and_an_unsigned_one_is_refused(
    settings: Settings, pool: asyncpg.Pool, provider_api: httpx.AsyncClient
) -> None:
    store = event_store(pool)
    run_id = UUID("00000000-0000-4000-8000-0000000000e1")
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
    [requested] = await store.append(run_id, 1, envelopes(run_id, 1, [message("welcome")]))
    url = f"/deliveries/{requested.event_id}/receipts"
    delivered = orjson.dumps({"status": "delivered", "providerMessageId": "SM1"})
    bounced = orjson.dumps({"status": "bounced", "reason": "unknown_number"})

    unsigned = await provider_api.post(url, content=delivered)
    forged = await provider_api.post(
        url, content=delivered, headers={SIGNATURE_HEADER: sign("guess", delivered)}
    )
    first = await provider_api.post(
        url, content=delivered, headers={SIGNATURE_HEADER: sign(RECEIPT_SECRET, delivered)}
    )
    again = await provider_api.post(
        url, content=delivered, headers={SIGNATURE_HEADER: sign(RECEIPT_SECRET, delivered)}
    )
    late = await provider_api.post(
        url, content=bounced, headers={SIGNATURE_HEADER: sign(RECEIPT_SECRET, bounced)}
    )
    unknown = await provider_api.post(
        f"/deliveries/{run_id}/receipts",
        content=delivered,
        headers={SIGNATURE_HEADER: sign(RECEIPT_SECRET, delivered)},
    )

    assert (unsigned.status_code, forged.status_code, unknown.status_code) == (401, 401, 404)
    assert first.status_code == again.status_code == late.status_code == 200
    assert [r.json()["recorded"] for r in (first, again, late)] == [True, False, False]
    stream = await store.read_stream(run_id)
    assert [e.event for e in stream[2:]] == [
        MessageDelivered(node_id="welcome", provider_message_id="SM1", attempts=0, source="receipt")
    ]
    assert stream[2].causation_id == requested.event_id
    receipt = await pool.fetchval(
        "SELECT receipt FROM message_deliveries WHERE request_event_id = $1", requested.event_id
    )
    assert receipt == "delivered"


@pytest.mark.parametrize(
    ("receipt", "field"),
    [
        ({"status": "bounced", "reason": "mailbox of anna.k@example.org is full"}, "reason"),
        ({"status": "delivered", "providerMessageId": "echo: see you Monday, Anna"}, "providerMessageId"),
    ],
)
async def test_a_receipt_with_free_text_for_an_id_or_code_is_refused_and_nothing_is_kept(
    pool: asyncpg.Pool, provider_api: httpx.AsyncClient, receipt: dict[str, str], field: str
) -> None:
    store = event_store(pool)
    run_id = UUID("00000000-0000-4000-8000-0000000000e2")
    await store.append(run_id, 0, envelopes(run_id, 0, [run_started()]))
    [requested] = await store.append(run_id, 1, envelopes(run_id, 1, [message("welcome")]))
    content = orjson.dumps(receipt)

    refused = await provider_api.post(
        f"/deliveries/{requested.event_id}/receipts",
        content=content,
        headers={SIGNATURE_HEADER: sign(RECEIPT_SECRET, content)},
    )

    assert refused.status_code == 400, refused.text
    [problem] = refused.json()["problems"]
    assert problem["path"] == field and "patient's data" in problem["message"]
    assert "anna" not in refused.text.lower()
    assert len(await store.read_stream(run_id)) == 2


def _patient(patient_id: str, appointment_at: str) -> dict[str, object]:
    return {"id": patient_id, "age": 60, "language": "en", "appointment_at": appointment_at}


async def _delivered(pool: asyncpg.Pool, run_id: UUID) -> bool | None:
    found = await pool.fetchval(
        "SELECT count(*) FROM message_deliveries WHERE run_id = $1 AND status = 'delivered'", run_id
    )
    return True if found else None


async def _waiting_status(api: httpx.AsyncClient, run_id: UUID) -> dict[str, str] | None:
    body = (await api.get(f"/journeys/runs/{run_id}")).json()
    return body if body.get("status") == RunStatus.WAITING_DELAY.value else None


async def _is_set(mailbox: Mailbox) -> bool | None:
    return True if mailbox.first_held.is_set() else None
