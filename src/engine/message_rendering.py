"""Renders requested messages at the edge: the template with the opened context, sealed before append.

Jinja2's sandbox renders (no attribute tricks, no I/O), only templates within `domain.template_bounds` and
within a size (`engine.bounded_templates`); StrictUndefined makes a missing field a failure named by its
path (`template_field_missing: patient.first_name`) unless the template gives a `default`. HTML email is
autoescaped; SMS, webhook and log text is not.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, NamedTuple, Protocol
from uuid import UUID

from jinja2 import StrictUndefined, Template, UndefinedError

from domain.decider import PATIENT_DATA_UNAVAILABLE
from domain.message_decisions import DEFAULT_CHANNEL
from domain.template_bounds import template_refusal
from engine.bounded_templates import (
    MAX_RENDERED_CHARS,
    FieldList,
    FieldObject,
    NotPrintable,
    RenderedTooLarge,
    bounded_environment,
    render_bounded,
)
from events.catalogue import MessageRequested, RunEvent, Sealed
from events.patient_vault import TextsToSeal

log = logging.getLogger(__name__)

FIELD_MISSING: Final = "template_field_missing"
TEMPLATE_FAILED: Final = "template_error"
HTML_CHANNELS: Final = frozenset({"email"})


class TextSealer(Protocol):
    """Seals rendered texts with the patient's data key (events.patient_vault.PatientVault)."""

    async def seal_texts_many(self, batch: Sequence[TextsToSeal]) -> list[list[Sealed] | None]: ...


class RunMessages(NamedTuple):
    """One run's decided events, with its opened context and the key that context is sealed with."""

    events: Sequence[RunEvent]
    context: Mapping[str, Any]
    key_id: UUID | None


class _Fields(FieldObject):
    """A context mapping that knows its dotted path, so a missing field can be named in full."""

    def __init__(self, values: Mapping[str, Any], path: str) -> None:
        super().__init__({key: _fields(value, f"{path}.{key}") for key, value in values.items()})
        self._field_path = path


def _fields(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        return _Fields(value, path)
    if isinstance(value, list):
        return FieldList(_fields(item, path) for item in value)
    return value


class _MissingField(StrictUndefined):
    """StrictUndefined whose error message is the missing field's dotted path."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        parent = getattr(self._undefined_obj, "_field_path", None)
        name = str(self._undefined_name)
        return f"{parent}.{name}" if parent else name


_ENVIRONMENTS: Final = {html: bounded_environment(_MissingField, html=html) for html in (False, True)}


@lru_cache(maxsize=1024)
def _compiled(template: str, html: bool) -> Template | str:
    """The compiled template, or why it may not render: compiling is most of a render's cost, and a
    journey's few templates render for every run. Journeys saved before templates were bounded are
    checked here too, so none of them can stall the engine either."""
    environment = _ENVIRONMENTS[html]
    try:
        refusal = template_refusal(environment.parse(template))
        compiled: Template | str = environment.from_string(template) if refusal is None else refusal
    except Exception as error:  # compiling turns a template into Python: any failure is this template's
        compiled = f"the template cannot be compiled ({type(error).__name__})"
    if isinstance(compiled, str):  # once per template and process: the construct, never the template
        log.warning("a stored message template fails every message it renders: %s", compiled)
    return compiled


def render(template: str, context: Mapping[str, Any], *, html: bool) -> str | tuple[str]:
    """The text, or a one-item tuple with the failure reason (field paths, error kinds and template
    constructs only, never a patient's value)."""
    try:
        compiled = _compiled(template, html)
        if isinstance(compiled, str):
            return (f"{TEMPLATE_FAILED}: {compiled}",)
        return render_bounded(compiled, patient=_fields(context, "patient"))
    except UndefinedError as error:
        return (f"{FIELD_MISSING}: {error.message}",)
    except RenderedTooLarge:
        return (f"{TEMPLATE_FAILED}: the text would be over {MAX_RENDERED_CHARS} characters",)
    except NotPrintable:
        return (f"{TEMPLATE_FAILED}: a list or an object cannot be printed (join a list's items)",)
    except Exception as error:  # whatever one message's template does fails that message, never the batch
        return (f"{TEMPLATE_FAILED}: {type(error).__name__}",)


class MessageRenderer:
    """Turns the decider's MessageRequested (template in clear) into the stored one (text sealed)."""

    def __init__(self, sealer: TextSealer, default_channel: str) -> None:
        self._sealer = sealer
        self._default_channel = default_channel

    async def seal_requests_many(self, batch: Sequence[RunMessages]) -> list[list[RunEvent]]:
        """Each run's events with every MessageRequested rendered and sealed, one key-store read for all.

        "default" stays in the event: the delivery role's PJS_MESSAGE_CHANNEL picks the channel at send
        time, as before channels existed; here it only decides whether the text is HTML.
        """
        texts = [self._render(run.events, run.context) for run in batch]
        to_seal = [
            TextsToSeal(run.context, run.key_id, [t for t in rendered.values() if isinstance(t, str)])
            for run, rendered in zip(batch, texts, strict=True)
        ]
        sealed = await self._sealer.seal_texts_many(to_seal)
        return [
            _with_texts(run.events, rendered, iter(ciphers))
            if ciphers is not None
            else _with_texts(run.events, dict.fromkeys(rendered, (PATIENT_DATA_UNAVAILABLE,)), iter(()))
            for run, rendered, ciphers in zip(batch, texts, sealed, strict=True)
        ]

    def _render(self, events: Sequence[RunEvent], context: Mapping[str, Any]) -> dict[int, str | tuple[str]]:
        requests = [e for e in events if isinstance(e, MessageRequested) and isinstance(e.message, str)]
        return {
            id(e): render(str(e.message), context, html=self._channel(e) in HTML_CHANNELS) for e in requests
        }

    def _channel(self, requested: MessageRequested) -> str:
        return self._default_channel if requested.channel == DEFAULT_CHANNEL else requested.channel


def _with_texts(
    events: Sequence[RunEvent], texts: Mapping[int, str | tuple[str]], sealed: Iterator[Sealed]
) -> list[RunEvent]:
    """The events with each rendered message replaced by its sealed text, or by its failure reason."""
    done: list[RunEvent] = []
    for event in events:
        text = texts.get(id(event))
        if not isinstance(event, MessageRequested) or id(event) not in texts:
            done.append(event)
        elif isinstance(text, str):
            done.append(event.model_copy(update={"message": next(sealed)}))
        else:
            failure = text[0] if text is not None else TEMPLATE_FAILED
            done.append(event.model_copy(update={"message": None, "failure": failure}))
    return done
