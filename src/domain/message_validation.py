"""Validation of the messaging fields of a journey: templates, translations, channels, waits and clocks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from jinja2 import TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from domain.journey import DelayNode
from domain.local_clock import QuietHours, parse_local_time, zone_named
from domain.template_bounds import template_refusal

CHANNELS: Final = ("sms", "email", "webhook", "log")
DELAY_FORMS: Final = ("duration_seconds", "until_local_time", "until_field")
# A language tag (BCP 47): a 2-3 letter language and optional subtags, e.g. "es", "pt-BR", "zh-Hant-TW".
LANGUAGE_TAG_PATTERN: Final = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$"
"""A language tag as the service takes it (BCP 47's shape: a language, then subtags)."""
_LANGUAGE_TAG: Final = re.compile(LANGUAGE_TAG_PATTERN, re.ASCII)
_MAX_OFFSET_SECONDS: Final = 10 * 366 * 24 * 3600

# Parsing only: nothing is rendered here, so the checks stay pure.
_TEMPLATES: Final = SandboxedEnvironment()

Problems = list[tuple[str, str]]
"""(path, message) pairs; validation turns them into its Problem values."""


def is_language_tag(value: object) -> bool:
    return isinstance(value, str) and _LANGUAGE_TAG.fullmatch(value) is not None


def _stored_language_tag(value: object) -> bool:
    """The check a translation's tag passed when journeys were first stored: one trailing line break was let
    through then, and a stored version must stay readable (a posted one is held to `is_language_tag`)."""
    return isinstance(value, str) and is_language_tag(value.removesuffix("\n"))


def template_problem(source: str) -> str | None:
    """Why `source` is not a valid template (with its line), or None."""
    parsed = _parsed(source)
    return parsed if isinstance(parsed, str) else None


def _parsed(source: str) -> nodes.Template | str:
    """The template's syntax tree, or why it cannot be read."""
    try:
        return _TEMPLATES.parse(source)
    except TemplateSyntaxError as error:
        return f"Template syntax error at line {error.lineno}: {error.message}"
    except (RecursionError, ValueError):  # brackets nested thousands deep; a number too long to read
        return "The template is nested too deeply, or holds a number too long, to be read."


def posted_message_problems(raw_journey: dict[str, Any]) -> Problems:
    """Each MESSAGE template of a posted journey that a journey may not carry (domain.template_bounds), and
    each translation tag with a line break after it.

    Checked for what callers send only: a journey stored before these rules still loads, and the engine
    fails just the message of such a template instead of rendering it (engine/message_rendering.py).
    """
    problems = unbounded_template_problems(raw_journey)
    for path, _ in _message_templates(raw_journey):
        tag = path.partition(".translations.")[2]
        if tag and _stored_language_tag(tag) and not is_language_tag(tag):
            problems.append((path, f"{tag!r} is not a language tag (BCP 47)."))
    return problems


def unbounded_template_problems(raw_journey: dict[str, Any]) -> Problems:
    """Each MESSAGE template of a journey, posted or stored, that is outside the bounds: (path, why)."""
    found = ((path, _refusal_of(text)) for path, text in _message_templates(raw_journey))
    return [(path, refusal) for path, refusal in found if refusal is not None]


def unsendable_channel_problems(raw_journey: dict[str, Any], unsendable: Mapping[str, str]) -> Problems:
    """Each MESSAGE of a journey, posted or stored, naming a channel of `unsendable` (channel -> the setting
    that would configure it): (path, why), in the words of the refusal at save (`message_extras`)."""
    found = (_unsendable_channel(at, node, unsendable) for at, node in _message_nodes(raw_journey))
    return [problem for problem in found if problem is not None]


def _message_nodes(raw_journey: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    raw_nodes = raw_journey.get("nodes")
    return [
        (f"nodes[{index}]", node)
        for index, node in enumerate(raw_nodes if isinstance(raw_nodes, list) else [])
        if isinstance(node, dict) and node.get("type") == "MESSAGE"
    ]


def _message_templates(raw_journey: dict[str, Any]) -> list[tuple[str, object]]:
    return [
        (f"{at}.{field}", text)
        for at, node in _message_nodes(raw_journey)
        for field, text in _templates_of(node)
    ]


def _templates_of(node: dict[str, Any]) -> list[tuple[str, object]]:
    translations = node.get("translations")
    extra = translations.items() if isinstance(translations, dict) else ()
    return [("message", node.get("message")), *((f"translations.{tag}", text) for tag, text in extra)]


def _refusal_of(text: object) -> str | None:
    parsed = _parsed(text) if isinstance(text, str) else None
    if not isinstance(parsed, nodes.Template):
        return None  # not a string, or template_problem names why it cannot be read
    refusal = template_refusal(parsed)
    return None if refusal is None else f'{refusal[0].upper()}{refusal[1:]}; see docs/api.md, "Templates".'


def message_extras(
    at: str, raw: dict[str, Any], problems: Problems, unsendable: Mapping[str, str]
) -> tuple[tuple[tuple[str, str], ...], str | None]:
    """A MESSAGE's `translations` and `channel`, each problem noted; the `message` template is checked too.

    `unsendable` maps each channel this service cannot send by to the setting that would configure it: a
    MESSAGE naming one is a problem (one naming no channel takes the delivery role's default)."""
    message = raw.get("message")
    if isinstance(message, str) and (problem := template_problem(message)) is not None:
        problems.append((f"{at}.message", problem))
    translations: list[tuple[str, str]] = []
    raw_translations = raw.get("translations", {})
    if not isinstance(raw_translations, dict):
        problems.append((f"{at}.translations", "translations must be an object: language tag -> text."))
        raw_translations = {}
    for tag, text in raw_translations.items():
        where = f"{at}.translations.{tag}"
        if not _stored_language_tag(tag):
            problems.append((where, f"{tag!r} is not a language tag (BCP 47, e.g. 'es' or 'pt-BR')."))
        elif not isinstance(text, str):
            problems.append((where, "A translation must be a string."))
        elif (problem := template_problem(text)) is not None:
            problems.append((where, problem))
        else:
            translations.append((str(tag), text))
    channel = raw.get("channel")
    if channel is not None and channel not in CHANNELS:
        problems.append(
            (f"{at}.channel", f"Unknown channel {channel!r}; valid channels are {', '.join(CHANNELS)}.")
        )
        channel = None
    elif (refusal := _unsendable_channel(at, raw, unsendable)) is not None:
        problems.append(refusal)
    return tuple(translations), channel


def _unsendable_channel(
    at: str, raw: dict[str, Any], unsendable: Mapping[str, str]
) -> tuple[str, str] | None:
    """The refusal of a MESSAGE naming a channel of `unsendable`: one text, at save and for a stored one."""
    channel = raw.get("channel")
    if not isinstance(channel, str) or channel not in unsendable:
        return None
    return (
        f"{at}.channel",
        f"Node {raw.get('id')!r} sends by {channel}, but this service has no {channel} channel: "
        f'set {unsendable[channel]} (see docs/operations.md, "Message channels").',
    )


def delay_form(at: str, node_id: str, raw: dict[str, Any], problems: Problems) -> DelayNode | None:
    """The DELAY node of an `until_local_time` or `until_field` form, or None for `duration_seconds`."""
    forms = [form for form in DELAY_FORMS if form in raw]
    if len(forms) > 1:
        problems.append((at, f"A DELAY node takes one of {', '.join(DELAY_FORMS)}, got {', '.join(forms)}."))
    if "until_local_time" in raw:
        at_time = parse_local_time(raw["until_local_time"])
        if at_time is None:
            problems.append((f"{at}.until_local_time", 'until_local_time must be a local time "HH:MM".'))
        return DelayNode(id=node_id, until_local_time=at_time)
    if "until_field" not in raw:
        return None
    field = raw["until_field"]
    if not isinstance(field, str) or not field:
        problems.append(
            (f"{at}.until_field", "until_field must name a context field, e.g. patient.appointment_at.")
        )
    offset = raw.get("offset_seconds", 0)
    if isinstance(offset, bool) or not isinstance(offset, int | float) or abs(offset) > _MAX_OFFSET_SECONDS:
        problems.append(
            (f"{at}.offset_seconds", "offset_seconds must be a number of seconds within 10 years.")
        )
        offset = 0
    at_time = None
    if raw.get("at_local_time") is not None:
        at_time = parse_local_time(raw["at_local_time"])
        if at_time is None:
            problems.append((f"{at}.at_local_time", 'at_local_time must be a local time "HH:MM".'))
    return DelayNode(id=node_id, until_field=str(field), offset_seconds=float(offset), at_local_time=at_time)


def journey_clock(raw: dict[str, Any], problems: Problems) -> tuple[str | None, QuietHours | None]:
    """The journey's `timezone` (IANA name) and `quiet_hours` ({start, end} as "HH:MM")."""
    timezone = raw.get("timezone")
    if timezone is not None and (not isinstance(timezone, str) or zone_named(timezone) is None):
        problems.append(
            ("timezone", f"Unknown time zone {timezone!r}; use an IANA name such as Europe/Paris.")
        )
        timezone = None
    quiet = raw.get("quiet_hours")
    if quiet is None:
        return timezone, None
    start = parse_local_time(quiet.get("start")) if isinstance(quiet, dict) else None
    end = parse_local_time(quiet.get("end")) if isinstance(quiet, dict) else None
    if start is None or end is None:
        problems.append(
            ("quiet_hours", 'quiet_hours must be {"start": "HH:MM", "end": "HH:MM"} (local times).')
        )
        return timezone, None
    return timezone, QuietHours(start, end)
