"""The run-events topic's contract as an AsyncAPI 3.0 document, generated from the event catalogue.

Payload schemas are the catalogue models' JSON Schemas (`schema_evolution.payload_schema`), headers are the
CloudEvents attributes `envelope` writes, and the upcasting rules are the upcasters' docstrings.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import yaml

from events.asyncapi_examples import example_record
from events.catalogue import EVENT_TYPES, RunEventClass
from events.envelope import (
    CONTENT_TYPE,
    SOURCE,
    SPEC_VERSION,
    TRACEPARENT_HEADER,
    TRACESTATE_HEADER,
    TYPE_PREFIX,
)
from events.schema_evolution import Schema, payload_schema
from events.tenancy import TENANT_HEADER
from events.upcasting import UPCASTERS

KAFKA_BINDING_VERSION = "0.5.0"
_CHANNEL = "runEvents"
_COMPONENT = "#/components/schemas/{name}"


@dataclass(frozen=True)
class RunEventsTopic:
    """The topic's facts a subscriber needs (from the settings: PJS_RUN_EVENTS_*)."""

    name: str
    partitions: int
    retention_hours: int
    local_port: int = 29092  # where `pjs services up`'s broker listens (PJS_LOCAL_KAFKA_PORT)


DESCRIPTION = """\
Every event appended to a run's stream in the event store is published once committed, by the relay, to one
Kafka topic, every clinic's (tenant's) runs on it (`ce_pjstenantid` names each event's clinic). Subscribers
(analytics, audit, the hospital's own systems, never one clinic) read it with a read-only user that cannot
write it; docs/subscribers.md says how.

- **Key**: the run id (UTF-8 text). All of one run's events go to one partition, **in stream order**
  (`ce_pjsstreamversion` 1, 2, 3, ...); there is no order between runs.
- **At least once**: a record can be published again (a relay retried or restarted, or an operator retried it
  from the dead-letter store: that copy also carries a `pjs_retry_of` header). `ce_id` is the same for the
  same stream slot, so dedupe on `ce_id` or on (`ce_subject`, `ce_pjsstreamversion`).
- **CloudEvents 1.0, binary content mode**: the attributes are `ce_*` Kafka headers (UTF-8 text), the value is
  the JSON payload (`content-type: application/json`). `ce_type` is `pjs.run.<Type>.v<schema version>`.
- **Versions**: the relay publishes each type's current schema version (it upcasts older stored events).
  Records published by older code may still carry an older version; read them by applying the type's
  upcasting rules (`x-pjs-upcasting`) in order, exactly as the service does. A version newer than the reader
  knows must not be guessed at: stop and upgrade the reader.
- **Within a version** fields are only ever added, and added ones are optional (a unit test checks this
  against the released copies in docs/schemas/). Ignore fields you do not know.
- **Sealed fields** (`Sealed`: `key_id` + `ciphertext`) hold patient data encrypted with that patient's data
  key (AES-256-GCM); a subscriber cannot read them, and nobody can once the patient is erased
  (`PatientErased`). The examples' ciphertexts are dummies.
"""

_HEADERS: dict[str, Schema] = {
    "ce_specversion": {"const": SPEC_VERSION, "description": "CloudEvents spec version."},
    "ce_id": {
        "format": "uuid",
        "description": "The event id: a uuid5 of (run id, stream version), so a re-published event keeps it.",
    },
    "ce_source": {"const": SOURCE, "description": "Where the event was recorded: the event store."},
    "ce_type": {
        "pattern": f"^{re.escape(TYPE_PREFIX)}[A-Za-z]+\\.v[1-9][0-9]*$",
        "description": "Type + version.",
    },
    "ce_subject": {"format": "uuid", "description": "The run id (also the record key)."},
    "ce_time": {"format": "date-time", "description": "When the event was recorded (ISO-8601, UTC)."},
    "content-type": {"const": CONTENT_TYPE, "description": "The value's media type."},
    "ce_pjsstreamversion": {
        "pattern": "^[1-9][0-9]*$",
        "description": "The event's 1-based position in its run's stream: the order within the run.",
    },
    "ce_pjsposition": {
        "pattern": "^[0-9]+$",
        "description": "Its position in the whole store: unique, and higher for a later event of a run.",
    },
    "ce_pjscausationid": {
        "format": "uuid",
        "description": "The event (ce_id) that caused this one, if any.",
    },
    "ce_pjscorrelationid": {
        "format": "uuid",
        "description": "Ties together the events of one request (e.g. one trigger), if any.",
    },
    TENANT_HEADER: {"format": "uuid", "description": "The tenant (clinic) whose run this is."},
    TRACEPARENT_HEADER: {
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "description": "CloudEvents distributed tracing extension: the W3C traceparent of the span that "
        "appended the event, when the request that caused it was traced.",
    },
    TRACESTATE_HEADER: {
        "description": "CloudEvents distributed tracing extension: the W3C tracestate, if the trace has one.",
    },
}
OPTIONAL_HEADERS = frozenset(
    {"ce_pjscausationid", "ce_pjscorrelationid", TRACEPARENT_HEADER, TRACESTATE_HEADER}
)


def service_version() -> str:
    """The installed service's version (the document's `info.version`)."""
    try:
        return metadata.version("patient-journey-scheduler")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"


def asyncapi_document(topic: RunEventsTopic) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the run-events topic."""
    schemas: dict[str, Schema] = {"RunEventHeaders": _headers_schema()}
    messages = {}
    for name, event_class in EVENT_TYPES.items():
        payload = payload_schema(event_class)
        for definition, schema in payload.pop("$defs", {}).items():
            schemas[definition] = _refs_to_components(schema)
        schemas[f"{name}Payload"] = _refs_to_components(payload)
        messages[name] = _message(name, event_class)
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Patient Journey Scheduler: run events",
            "version": service_version(),
            "description": DESCRIPTION,
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(topic),
        "channels": {_CHANNEL: _channel(topic, messages)},
        "operations": {
            "publishRunEvents": {
                "action": "send",
                "title": "The relay publishes committed run events",
                "summary": "Each committed event once or more, in stream order per run.",
                "channel": {"$ref": f"#/channels/{_CHANNEL}"},
                "messages": [{"$ref": f"#/channels/{_CHANNEL}/messages/{name}"} for name in messages],
            }
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "messages": messages,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha256",
                    "description": "SASL/SCRAM-SHA-256: on the local broker, the read-only subscriber user "
                    "(`pjs services status --json`, kafka.subscriber); elsewhere, your operator's.",
                }
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """Multi-line text as literal blocks, so the committed YAML reads like the docstrings it came from."""


def _text(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


_Dumper.add_representer(str, _text)


def document_yaml(document: dict[str, Any]) -> str:
    """The document as YAML (as committed in docs/asyncapi.yaml)."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)


def _servers(topic: RunEventsTopic) -> dict[str, Any]:
    return {
        "local": {
            "host": "127.0.0.1:{port}",
            "protocol": "kafka",
            "description": "The broker `pjs services up` starts; elsewhere PJS_KAFKA_BOOTSTRAP.",
            "variables": {"port": {"default": str(topic.local_port), "description": "PJS_LOCAL_KAFKA_PORT"}},
            "security": [{"$ref": "#/components/securitySchemes/scram"}],
        }
    }


def _channel(topic: RunEventsTopic, messages: dict[str, Any]) -> dict[str, Any]:
    return {
        "address": topic.name,
        "title": "Run events",
        "description": "One record per run event; key = run id: each run's events in order in one partition.",
        "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
        "bindings": {
            "kafka": {
                "topic": topic.name,
                "partitions": topic.partitions,
                "topicConfiguration": {"retention.ms": topic.retention_hours * 3_600_000},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }


def _message(name: str, event_class: RunEventClass) -> dict[str, Any]:
    version = event_class.SCHEMA_VERSION
    doc = inspect.cleandoc(event_class.__doc__ or name)
    key, headers, payload = example_record(name)
    upcasting = upcasting_rules(name)
    older = "".join(f"\n- v{rule['from']} → v{rule['to']}: {rule['rule']}" for rule in upcasting)
    return {
        "name": name,
        "title": f"{name} v{version}",
        "summary": doc.splitlines()[0],
        "description": doc
        + (f"\n\nOlder versions read as v{version} by these steps, in order:{older}" if older else ""),
        "contentType": CONTENT_TYPE,
        "correlationId": {"location": "$message.header#/ce_pjscorrelationid"},
        "headers": {
            "allOf": [
                {"$ref": _COMPONENT.format(name="RunEventHeaders")},
                {"properties": {"ce_type": {"type": "string", "const": f"{TYPE_PREFIX}{name}.v{version}"}}},
            ]
        },
        "payload": {"$ref": _COMPONENT.format(name=f"{name}Payload")},
        "bindings": {
            "kafka": {
                "key": {"type": "string", "format": "uuid", "description": "The run id."},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
        "examples": [
            {
                "name": f"{name}Example",
                "summary": f"Made-up values (no real patient); the record's key is {key}",
                "headers": headers,
                "payload": payload,
            }
        ],
        "x-pjs-schema-version": version,
        "x-pjs-upcasting": upcasting,
    }


def upcasting_rules(name: str) -> list[dict[str, Any]]:
    """The steps reading an older `name` payload as the next version: from, to, and what each does."""
    return [
        {"from": version, "to": version + 1, "rule": " ".join((step.__doc__ or "").split())}
        for (type_name, version), step in sorted(UPCASTERS.items())
        if type_name == name
    ]


def _headers_schema() -> Schema:
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes (binary content mode) and the pjs extension attributes.",
        "properties": {name: {"type": "string", **schema} for name, schema in _HEADERS.items()},
        "required": [name for name in _HEADERS if name not in OPTIONAL_HEADERS],
    }


def _refs_to_components(schema: Any) -> Any:
    """A pydantic schema's `#/$defs/X` references, pointed at the document's components instead."""
    if isinstance(schema, dict):
        return {
            key: (
                _COMPONENT.format(name=value.rpartition("/")[2])
                if key == "$ref" and isinstance(value, str)
                else _refs_to_components(value)
            )
            for key, value in schema.items()
        }
    if isinstance(schema, list):
        return [_refs_to_components(item) for item in schema]
    return schema
