"""Messages: new fields checked at save, languages picked, waits decided, texts sealed, old events upcast."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from domain.context_fit import context_fit
from domain.decider import decide
from domain.journey import JourneyDefinition, MessageNode
from domain.message_decisions import pick_template
from domain.run_state import evolve, initial_state
from domain.validation import Problem, validate_journey, validate_stored_journey
from engine.commands import PatientContextUnfit, RunAccepted
from engine.delivery_worker import DeliveryConfig, DeliveryWorker
from engine.engine_worker import EngineWorker
from events.catalogue import (
    DelayElapsed,
    DelayStarted,
    MessageDelivered,
    MessageFailed,
    MessageRequested,
    RunFailed,
    RunStarted,
    Sealed,
    stamp,
)
from events.codec import decode_payload
from support.fakes import FakeBackend, RecordingChannel
from support.triggers import trigger_run

NOW = datetime(2026, 3, 1, 22, 0, tzinfo=UTC)  # 23:00 in Madrid, 17:00 in New York


def journey(*nodes: dict[str, Any], **fields: Any) -> JourneyDefinition | list[Problem]:
    return validate_journey({"name": "J", "start_node_id": nodes[0]["id"], "nodes": list(nodes), **fields})


def valid(*nodes: dict[str, Any], **fields: Any) -> JourneyDefinition:
    parsed = journey(*nodes, **fields)
    assert isinstance(parsed, JourneyDefinition), parsed
    return parsed


def msg(node_id: str, text: str, next_node_id: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "MESSAGE", "message": text, "next_node_id": next_node_id, **extra}


def paths(result: JourneyDefinition | list[Problem]) -> dict[str, str]:
    assert isinstance(result, list)
    return {problem.path: problem.message for problem in result}


def test_a_template_syntax_error_is_refused_at_save_naming_the_node_and_line() -> None:
    problems = paths(
        journey(msg("hi", "Hello\n{{ patient.first_name "), msg("es", "x", translations={"es": "{% if %}"}))
    )
    assert "line 2" in problems["nodes[0].message"]
    assert "Template syntax error" in problems["nodes[1].translations.es"]


def test_every_new_field_is_validated() -> None:
    problems = paths(
        journey(
            msg("a", "x", "b", translations={"not a tag": "x"}, channel="pigeon"),
            {
                "id": "b",
                "type": "DELAY",
                "until_local_time": "25:00",
                "duration_seconds": 5,
                "next_node_id": "c",
            },
            {"id": "c", "type": "DELAY", "until_field": "", "offset_seconds": "soon", "at_local_time": "9am"},
            timezone="Mars/Olympus",
            quiet_hours={"start": "21:00"},
        )
    )
    assert set(problems) == {
        "nodes[0].translations.not a tag",
        "nodes[0].channel",
        "nodes[1]",
        "nodes[1].until_local_time",
        "nodes[2].until_field",
        "nodes[2].offset_seconds",
        "nodes[2].at_local_time",
        "timezone",
        "quiet_hours",
    }


def test_new_fields_survive_the_journeys_json_shape() -> None:
    definition = valid(
        msg("a", "Hi {{ patient.first_name }}", "b", translations={"es": "Hola"}, channel="sms"),
        {"id": "b", "type": "DELAY", "until_local_time": "09:00", "next_node_id": "c"},
        {
            "id": "c",
            "type": "DELAY",
            "until_field": "patient.appointment_at",
            "offset_seconds": -86400,
            "at_local_time": "09:00",
        },
        timezone="Europe/Madrid",
        quiet_hours={"start": "21:00", "end": "08:00"},
    )
    assert validate_journey(definition.to_json_dict()) == definition


def test_a_loop_through_a_local_time_wait_passes_but_one_through_a_field_wait_does_not() -> None:
    daily = valid(
        msg("a", "x", "b"), {"id": "b", "type": "DELAY", "until_local_time": "09:00", "next_node_id": "a"}
    )
    assert isinstance(daily, JourneyDefinition)
    field_loop = journey(
        msg("a", "x", "b"), {"id": "b", "type": "DELAY", "until_field": "due", "next_node_id": "a"}
    )
    assert "loop" in paths(field_loop)["nodes"]


def test_the_patients_language_picks_a_translation_then_its_shorter_tag_then_the_default() -> None:
    node = MessageNode("m", "Hello", translations=(("es", "Hola"), ("pt", "Olá"), ("pt-BR", "Oi")))
    assert pick_template(node, "es") == ("es", "Hola")
    assert pick_template(node, "pt-BR") == ("pt-BR", "Oi")
    assert pick_template(node, "pt-PT") == ("pt", "Olá")
    assert pick_template(node, "ja") == (None, "Hello")


def started(definition: JourneyDefinition, context: dict[str, Any]) -> tuple[Any, RunStarted]:
    run_id = uuid4()
    wake_up = RunStarted(
        journey_id=uuid4(), journey_version=1, start_node_id=definition.start_node_id, patient_context=context
    )
    [envelope] = stamp(run_id, 0, [wake_up], now=NOW, causation_id=None, correlation_id=run_id)
    return evolve(initial_state(run_id), envelope), wake_up


PATIENT = {"id": "p", "age": 40, "language": "es"}


def test_a_message_due_in_quiet_hours_waits_then_is_sent_when_they_end() -> None:
    definition = valid(
        msg("m", "Hola"), timezone="Europe/Madrid", quiet_hours={"start": "21:00", "end": "08:00"}
    )
    state, wake_up = started(definition, PATIENT)

    [wait] = decide(definition, state, wake_up, now=NOW)

    assert isinstance(wait, DelayStarted) and wait.reason == "quiet_hours" and wait.node_id == "m"
    assert wait.resume_at == datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
    [envelope] = stamp(state.run_id, state.version, [wait], now=NOW, causation_id=None, correlation_id=None)
    state = evolve(state, envelope)
    fired = DelayElapsed(node_id="m", resume_at=wait.resume_at, fired_at=wait.resume_at)
    [envelope] = stamp(state.run_id, state.version, [fired], now=NOW, causation_id=None, correlation_id=None)
    state = evolve(state, envelope)
    # The engine's clock may lag the timer's: the quiet hours are still over.
    requested, _completed = decide(definition, state, fired, now=wait.resume_at.replace(hour=6))
    assert requested == MessageRequested(node_id="m", message="Hola", channel="default", language=None)


def test_a_field_moment_already_past_continues_at_once_and_says_so() -> None:
    definition = valid(
        {"id": "d", "type": "DELAY", "until_field": "patient.appointment_at", "next_node_id": None}
    )
    state, wake_up = started(definition, {**PATIENT, "appointment_at": "2020-01-01"})
    [wait] = decide(definition, state, wake_up, now=NOW)
    assert isinstance(wait, DelayStarted) and wait.reason == "moment_already_past" and wait.resume_at == NOW

    state, wake_up = started(definition, PATIENT)
    [failed] = decide(definition, state, wake_up, now=NOW)
    assert isinstance(failed, RunFailed) and "until_field patient.appointment_at" in failed.reason


def test_the_trigger_names_what_the_context_lacks_for_the_journey() -> None:
    definition = valid(
        msg("s", "x", "e", channel="sms"),
        msg("e", "x", "d", channel="email"),
        {"id": "d", "type": "DELAY", "until_field": "patient.appointment_at", "next_node_id": None},
    )
    problems = context_fit(definition).problems({**PATIENT, "phone": "555-1234"}, NOW)
    assert [p.path for p in problems] == ["phone", "email", "appointment_at"]
    fit = {**PATIENT, "phone": "+15551234567", "email": "a@example.org", "appointment_at": "2026-05-01"}
    assert context_fit(definition).problems(fit, NOW) == []


JOURNEY_ID = UUID("00000000-0000-4000-8000-00000000f00e")


async def run_on(backend: FakeBackend, definition: JourneyDefinition, context: dict[str, Any]) -> Any:
    backend.journeys.add(JOURNEY_ID, definition)
    return await trigger_run(
        backend.store,
        backend.heads,
        backend.journeys,
        run_id=uuid4(),
        journey_id=JOURNEY_ID,
        patient_context=context,
        now=backend.clock(),
        sealer=backend.vault,
    )


async def decided_and_delivered(
    backend: FakeBackend, definition: JourneyDefinition, context: dict[str, Any]
) -> tuple[RunAccepted, RecordingChannel]:
    """Trigger, let the engine decide (render, seal), then let delivery send into a recording channel."""
    accepted = await run_on(backend, definition, context)
    assert isinstance(accepted, RunAccepted)
    engine = EngineWorker(
        backend.heads, backend.store, backend.journeys, backend.clock, contexts=backend.vault
    )
    await engine.handle(await backend.stream(accepted.run_id))
    channel = RecordingChannel()
    worker = DeliveryWorker(backend.heads, backend.ledger, channel, DeliveryConfig(), contexts=backend.vault)
    await worker.handle(await backend.stream(accepted.run_id))
    return accepted, channel


async def test_the_engine_seals_the_rendered_text_and_delivery_sends_it_in_clear_to_the_channel() -> None:
    backend = FakeBackend()
    definition = valid(
        msg("m", "Hi {{ patient.first_name }}", translations={"es": "Hola {{ patient.first_name }}"})
    )
    accepted, channel = await decided_and_delivered(backend, definition, {**PATIENT, "first_name": "Lucía"})

    requested = (await backend.stream(accepted.run_id))[1].event
    assert isinstance(requested, MessageRequested) and isinstance(requested.message, Sealed)
    assert (requested.language, requested.channel) == ("es", "default")
    assert "Lucía" not in requested.model_dump_json()
    [sent] = channel.sent
    assert (sent.message, sent.language) == ("Hola Lucía", "es")
    assert isinstance((await backend.stream(accepted.run_id))[-1].event, MessageDelivered)


async def test_a_missing_field_fails_that_message_with_its_path_unless_a_default_is_given() -> None:
    backend = FakeBackend()
    definition = valid(
        msg("named", "Hi {{ patient.first_name }}", "kind"),
        msg("kind", "Hi {{ patient.nickname | default('there') }}"),
    )
    accepted, channel = await decided_and_delivered(backend, definition, PATIENT)

    outcomes = {
        e.event.node_id: e.event
        for e in await backend.stream(accepted.run_id)
        if isinstance(e.event, MessageFailed | MessageDelivered)
    }
    assert outcomes["named"] == MessageFailed(
        node_id="named", reason="template_field_missing: patient.first_name", attempts=0
    )
    assert isinstance(outcomes["kind"], MessageDelivered)
    assert [m.message for m in channel.sent] == ["Hi there"]


async def test_a_trigger_without_the_address_its_journey_needs_is_refused() -> None:
    refused = await run_on(FakeBackend(), valid(msg("s", "x", channel="sms")), PATIENT)
    assert isinstance(refused, PatientContextUnfit) and [p.path for p in refused.problems] == ["phone"]


def test_stored_v1_message_and_delay_events_still_load() -> None:
    requested = decode_payload(
        "MessageRequested", 1, {"node_id": "m", "message": "Hello", "channel": "default"}
    )
    assert requested == MessageRequested(
        node_id="m", message="Hello", channel="default", language=None, failure=None
    )
    delivered = decode_payload(
        "MessageDelivered", 1, {"node_id": "m", "provider_message_id": None, "attempts": 1}
    )
    assert isinstance(delivered, MessageDelivered) and delivered.source == "send"
    started_v1 = {"node_id": "w", "duration_seconds": 60, "resume_at": "2026-03-01T00:00:00Z"}
    delay = decode_payload("DelayStarted", 1, started_v1)
    assert isinstance(delay, DelayStarted) and delay.reason is None


def test_a_translation_tag_with_a_line_break_is_refused_when_posted_yet_a_stored_one_still_reads() -> None:
    node = msg("m", "Hi", translations={"es\n": "Hola"})
    raw = {"name": "J", "start_node_id": "m", "nodes": [node]}

    assert "not a language tag" in paths(validate_journey(raw))["nodes[0].translations.es\n"]
    assert isinstance(validate_stored_journey(raw), JourneyDefinition)
