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
HOSTILE_TRACEPARENTS: list[str | bytes] = [
    "garbage",
    "00-" + "0" * 32 + "-" + "0" * 16 + "-01",  # all-zero ids are invalid
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  # version ff is forbidden
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" + "x" * 8000,
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-\u00e9".encode(),  # not ASCII
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


@pytest.mark.parametrize("traceparent", HOSTILE_TRACEPARENTS, ids=range(len(HOSTILE_TRACEPARENTS)))
async def test_a_hostile_traceparent_header_is_ignored(
    settings: Settings, api_key: str, traceparent: str
) -> None:
    async with traced_api(settings, api_key) as (api, exporter):
        journey_id = (await api.post("/journeys", json=SEED_JOURNEY)).json()["journeyId"]
        headers = {"traceparent": traceparent, "tracestate": "=,@@@," * 100}
        response = await api.post(f"/journeys/{journey_id}/trigger", json=CLINIC_PATIENT, headers=headers)
        assert response.status_code == 202, response.text
        [trigger] = [s for s in exporter.get_finished_spans() if s.name.endswith("/trigger")]
    assert trigger.parent is None or trigger.parent.is_valid  # a new trace, not a broken one
