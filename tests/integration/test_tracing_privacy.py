"""What a traced API exports: no patient id in any span, and a hostile `traceparent` breaks nothing."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from api.examples import CLINIC_PATIENT, SEED_JOURNEY
from pjs.settings import Settings
from support.tracing import traced_api

pytestmark = pytest.mark.integration

PATIENT_ID = "MRN-0042-7731"
HOSTILE_TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736  # the trace id inside the junk below
CALLER_SPAN_ID = 0x00F067AA0BA902B7
WELL_FORMED_TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
HOSTILE_TRACEPARENTS: list[str | bytes] = [
    "garbage",
    "00-" + "0" * 32 + "-" + "0" * 16 + "-01",  # all-zero ids are invalid
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is forbidden
    WELL_FORMED_TRACEPARENT + "x" * 8000,  # version 00 is exactly 55 characters
    (WELL_FORMED_TRACEPARENT + "-\u00e9").encode(),  # not ASCII, and too long for version 00
]


def exported_text(spans: Sequence[ReadableSpan]) -> str:
    """Every span's name, attributes and events, as a collector would receive them."""
    parts: list[str] = []
    for span in spans:
        parts.append(span.name)
        parts.extend(f"{k}={v!s}" for k, v in (span.attributes or {}).items())
        for event in span.events:
            parts.append(event.name)
            parts.extend(f"{k}={v!s}" for k, v in (event.attributes or {}).items())
    return "\n".join(parts)


async def test_no_patient_id_reaches_a_span_from_a_path_or_a_query(settings: Settings, api_key: str) -> None:
    async with traced_api(settings, api_key) as (api, exporter):
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        patient = {**CLINIC_PATIENT, "id": PATIENT_ID}
        assert (await api.post(f"/journeys/{journey_id}/trigger", json=patient)).status_code == 202
        assert (await api.get("/journeys/runs", params={"patientId": PATIENT_ID})).status_code == 200
        assert (await api.post(f"/patients/{PATIENT_ID}/erasure")).status_code == 202
        spans = exporter.get_finished_spans()
    exported = exported_text(spans)
    assert "/journeys/runs" in exported and "/patients/" in exported  # the requests were traced
    assert PATIENT_ID not in exported


async def traced_trigger(settings: Settings, api_key: str, headers: dict[str, str | bytes]) -> ReadableSpan:
    """The server span of one trigger sent with `headers` (bytes sent as they are)."""
    raw = [(name.encode(), v if isinstance(v, bytes) else v.encode()) for name, v in headers.items()]
    async with traced_api(settings, api_key) as (api, exporter):
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        response = await api.post(f"/journeys/{journey_id}/trigger", json=CLINIC_PATIENT, headers=raw)
        assert response.status_code == 202, response.text
        [trigger] = [s for s in exporter.get_finished_spans() if s.name.endswith("/trigger")]
    return trigger


@pytest.mark.parametrize("traceparent", HOSTILE_TRACEPARENTS, ids=range(len(HOSTILE_TRACEPARENTS)))
async def test_a_hostile_traceparent_header_is_discarded_and_a_new_trace_started(
    settings: Settings, api_key: str, traceparent: str | bytes
) -> None:
    hostile: dict[str, str | bytes] = {"traceparent": traceparent, "tracestate": "=,@@@," * 100}

    trigger = await traced_trigger(settings, api_key, hostile)

    assert trigger.parent is None  # W3C: a malformed traceparent is discarded, not adopted
    assert trigger.context is not None and trigger.context.is_valid
    assert trigger.context.trace_id != HOSTILE_TRACE_ID


async def test_a_well_formed_traceparent_header_is_continued(settings: Settings, api_key: str) -> None:
    trigger = await traced_trigger(settings, api_key, {"traceparent": WELL_FORMED_TRACEPARENT})

    assert trigger.parent is not None and trigger.parent.span_id == CALLER_SPAN_ID
    assert trigger.context is not None and trigger.context.trace_id == HOSTILE_TRACE_ID
