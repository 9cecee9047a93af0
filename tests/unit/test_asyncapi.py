"""The AsyncAPI document of the run-events topic: committed up to date, true to the relay's records."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
import yaml
from typer.testing import CliRunner

from events.asyncapi import OPTIONAL_HEADERS, RunEventsTopic, asyncapi_document
from events.asyncapi_examples import EXAMPLE_EVENTS, example_record
from events.catalogue import EVENT_TYPES, RecordedEvent, Sealed, stamp
from events.envelope import from_kafka_record, to_kafka_record
from events.schema_evolution import payload_schema
from events.upcasting import UPCASTERS
from pjs.cli import app
from pjs.contract_commands import committed_document_text
from support.runs import T0, run_started

ROOT = Path(__file__).resolve().parents[2]
TOPIC = RunEventsTopic("clinic.run-events", 6, 24)


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(TOPIC)


class Consumed:
    """A consumed record as aiokafka hands it over."""

    def __init__(self, value: bytes, headers: dict[str, str]) -> None:
        self.value = value
        self.headers = [(name, text.encode()) for name, text in headers.items()]


def test_the_committed_document_is_the_one_the_catalogue_generates() -> None:
    committed = (ROOT / "docs" / "asyncapi.yaml").read_text()

    assert committed == committed_document_text(), "docs/asyncapi.yaml is stale: run `pjs asyncapi write`"


def test_write_check_exits_1_on_drift_and_0_once_written(tmp_path: Path) -> None:
    output = tmp_path / "asyncapi.yaml"
    output.write_text("asyncapi: 3.0.0\n")
    runner = CliRunner()

    stale = runner.invoke(app, ["asyncapi", "write", "--check", "--output", str(output)])
    written = runner.invoke(app, ["asyncapi", "write", "--output", str(output)])
    fresh = runner.invoke(app, ["asyncapi", "write", "--check", "--output", str(output)])

    assert (stale.exit_code, written.exit_code, fresh.exit_code) == (1, 0, 0)
    assert output.read_text() == committed_document_text()


def test_the_channel_is_the_configured_topic_keyed_by_run_id(document: dict[str, Any]) -> None:
    [channel] = document["channels"].values()
    assert channel["address"] == channel["bindings"]["kafka"]["topic"] == "clinic.run-events"
    assert channel["bindings"]["kafka"]["partitions"] == 6
    assert channel["bindings"]["kafka"]["topicConfiguration"] == {"retention.ms": 24 * 3_600_000}
    for message in document["components"]["messages"].values():
        assert message["bindings"]["kafka"]["key"]["format"] == "uuid"


def test_every_event_type_is_a_message_of_its_current_version(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]

    assert set(messages) == set(EVENT_TYPES) == set(document["channels"]["runEvents"]["messages"])
    for name, event_class in EVENT_TYPES.items():
        ce_type = messages[name]["headers"]["allOf"][1]["properties"]["ce_type"]["const"]
        assert ce_type == f"pjs.run.{name}.v{event_class.SCHEMA_VERSION}"
        assert messages[name]["x-pjs-schema-version"] == event_class.SCHEMA_VERSION


def test_the_documented_headers_are_exactly_those_the_relay_writes(document: dict[str, Any]) -> None:
    headers = document["components"]["schemas"]["RunEventHeaders"]

    def written(ids: uuid.UUID | None, trace: str | None) -> set[str]:
        [new] = stamp(uuid.uuid4(), 0, [run_started()], now=T0, causation_id=ids, correlation_id=ids)
        traced = new.model_copy(update={"traceparent": trace, "tracestate": trace and "vendor=1"})
        return {name for name, _ in to_kafka_record(RecordedEvent(**dict(traced), position=7)).headers}

    written_with = written(uuid.uuid4(), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    written_without = written(None, None)

    assert written_with == set(headers["properties"])
    assert written_without == set(headers["required"]) == set(headers["properties"]) - OPTIONAL_HEADERS


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_each_example_is_valid_and_reads_back_as_its_event(document: dict[str, Any], name: str) -> None:
    [example] = document["components"]["messages"][name]["examples"]
    headers_schema = document["components"]["schemas"]["RunEventHeaders"]

    assert jsonschema_rs.validator_for(payload_schema(EVENT_TYPES[name])).is_valid(example["payload"])
    assert jsonschema_rs.validator_for(headers_schema).is_valid(example["headers"])
    _, headers, payload = example_record(name)
    read = from_kafka_record(Consumed(orjson.dumps(payload), headers))
    assert read.event == EXAMPLE_EVENTS[name]
    assert example["headers"]["ce_type"] == f"pjs.run.{name}.v{EVENT_TYPES[name].SCHEMA_VERSION}"


def test_patient_data_in_examples_is_sealed(document: dict[str, Any]) -> None:
    started = document["components"]["messages"]["RunStarted"]["examples"][0]["payload"]
    requested = document["components"]["messages"]["MessageRequested"]["examples"][0]["payload"]

    assert Sealed.model_validate(started["patient_context"])
    assert Sealed.model_validate(requested["message"])


def test_every_upcaster_is_documented_on_its_message(document: dict[str, Any]) -> None:
    documented = {
        (name, rule["from"])
        for name, message in document["components"]["messages"].items()
        for rule in message["x-pjs-upcasting"]
        if rule["to"] == rule["from"] + 1 and rule["rule"]
    }

    assert documented == set(UPCASTERS)


def test_the_document_and_its_yaml_hold_the_same() -> None:
    assert yaml.safe_load(committed_document_text()) == asyncapi_document(
        RunEventsTopic("pjs.run-events", 12, 168)
    )
