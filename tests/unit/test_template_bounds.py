"""Message templates are bounded: a journey cannot carry one whose rendering could stall the shared engine,
and one stored before the bounds fails its message instead of rendering."""

from __future__ import annotations

import time
from typing import Any

import pytest
from test_message_fields_and_waits import PATIENT, decided_and_delivered

from domain.journey import JourneyDefinition, MessageNode
from domain.validation import Problem, validate_journey
from engine.bounded_templates import MAX_RENDERED_CHARS
from engine.message_rendering import TEMPLATE_FAILED, render
from events.catalogue import MessageDelivered, MessageFailed
from support.fakes import FakeBackend

REFUSED = {
    '{{ "x" * 1000000000 }}': "the operator *",
    "{{ 9 ** 9 ** 9 }}": "the operator **",
    '{{ "%0999999999d" % 1 }}': "the operator %",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}": "a loop",
    '{{ "x".center(1000000000) }}': "a function or method call",
    "{{ patient.first_name | center(1000000000) }}": "the filter 'center'",
    "{{ patient.first_name | replace('a', 'aa') }}": "the filter 'replace'",
    "{% set big = 1 %}": "an assignment",
    "{% macro m() %}{% endmacro %}": "a macro",
    "{{ patient.__class__ }}": "the attribute '__class__'",
    "{% if patient is callable %}x{% endif %}": "the test 'callable'",
    "{{ patient.name | default(*patient.names) }}": "*args or **kwargs",
    "{{ patient.first_name" + " | lower" * 300 + " }}": "nesting deeper than 16 levels",
    "{% if 1 %}" * 150 + "{% endif %}" * 150: "nesting deeper than 16 levels",
    "{{ " + "+".join(["1"] * 2500) + " }}": "nesting deeper than 16 levels",
    "{{ patient[patient.code] }}": "a key that is not written in the template",
    "{{ patient.visits | sort(attribute=patient.key) }}": "an attribute name that is not written",
    "{% autoescape true %}x{% endautoescape %}": "{% autoescape %}",
    "{{ " + " ~ ".join(["patient.long"] * 33) + " }}": "using patient more than 32 times",
    "{{ 1 }}," * 300: "a template of more than 400 pieces",
    "{{ [patient.l, patient.l] | sum(start=[]) }}": "sum with a start value",
    "{{ patient.lists | sum([]) }}": "sum with a start value",
}

ALLOWED = [
    "Hello {{ patient.first_name | default('there') }}, your appointment is booked.",
    "{% if patient.age >= 65 and patient.language == 'es' %}Hola{% elif patient.age %}Hi{% endif %}",
    "{{ patient['first-name'] ~ ' ' ~ patient.last_name | upper }} ({{ patient.age + 1 }})",
    "{{ patient.medications | join(', ') | truncate(100) }}{{ patient.note if patient.note is defined }}",
    "<p>{{ patient.first_name | title }}</p>{% raw %}{{ literal }}{% endraw %}",
]


def problems_of(template: str) -> dict[str, str]:
    node = {"id": "m", "type": "MESSAGE", "message": "Hi", "translations": {"es": template}}
    result = validate_journey({"name": "J", "start_node_id": "m", "nodes": [{**node, "next_node_id": None}]})
    assert isinstance(result, list), result
    assert all(isinstance(problem, Problem) for problem in result)
    return {problem.path: problem.message for problem in result}


@pytest.mark.parametrize(("template", "named"), REFUSED.items(), ids=range(len(REFUSED)))
def test_a_template_that_could_grow_without_bound_is_refused_at_save_naming_what_and_where(
    template: str, named: str
) -> None:
    message = problems_of(template)["nodes[0].translations.es"]

    assert named.lower() in message.lower() and "line 1" in message


@pytest.mark.parametrize("template", ALLOWED)
def test_expressions_conditions_and_the_everyday_filters_are_allowed(template: str) -> None:
    node = {"id": "m", "type": "MESSAGE", "message": template, "next_node_id": None}
    assert isinstance(
        validate_journey({"name": "J", "start_node_id": "m", "nodes": [node]}), JourneyDefinition
    )


@pytest.mark.parametrize(("template", "named"), REFUSED.items(), ids=range(len(REFUSED)))
def test_a_template_stored_before_the_bounds_fails_its_message_at_once_instead_of_rendering(
    template: str, named: str
) -> None:
    started = time.process_time()
    failure = render(template, PATIENT, html=False)

    assert isinstance(failure, tuple) and failure[0].startswith(f"{TEMPLATE_FAILED}: {named}")
    assert time.process_time() - started < 5  # a stall would take minutes; this is no speed measurement


@pytest.mark.parametrize(
    "template",
    ["{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "{{ " + "9" * 5000 + " }}"],
    ids=["deep", "long"],
)
def test_a_template_too_deep_or_long_to_read_is_a_problem_not_a_crash(template: str) -> None:
    message = problems_of(template)["nodes[0].translations.es"]

    assert message == "The template is nested too deeply, or holds a number too long, to be read."


def test_a_missing_field_is_named_by_the_templates_own_words_never_by_the_patients() -> None:
    stored_before = render("{{ patient[patient.code] }}", {"code": "HIV-positive"}, html=False)

    assert isinstance(stored_before, tuple) and "HIV" not in stored_before[0]


FOUR = "((patient.numbers + patient.numbers) + (patient.numbers + patient.numbers))"
TWELVE_LISTS = f"({FOUR} + {FOUR}) + {FOUR}"
CONTEXT: dict[str, Any] = {
    "first_name": "Ana",
    "long": "y" * 10_000,
    "many": ["a"] * 10_000,
    "numbers": list(range(9_000)),
}
TOO_LARGE = [
    f"({TWELVE_LISTS}) | length",  # a list built by + past the cap
    f"({TWELVE_LISTS}) | sort | first",  # refused before sorting it
    " ~ ".join(["patient.long"] * 11),  # within the bounds, but over the text's cap
    "patient.many | join(patient.long)",  # a separator that would build 100 MB
    "patient.long | join(', ') | join(', ') | join(', ')",  # each join triples the text
]


@pytest.mark.parametrize("expression", TOO_LARGE)
def test_a_text_that_would_pass_the_cap_fails_its_message_before_it_is_built(expression: str) -> None:
    failure = render("{{ " + expression + " }}", CONTEXT, html=False)

    assert failure == (f"{TEMPLATE_FAILED}: the text would be over {MAX_RENDERED_CHARS} characters",)


async def test_a_stored_unbounded_template_fails_only_its_message_and_the_run_goes_on() -> None:
    backend = FakeBackend()
    legacy = JourneyDefinition(
        start_node_id="bad",
        nodes=(MessageNode("bad", '{{ "x" * 1000000000 }}', "next"), MessageNode("next", "See you soon")),
        name="Saved before templates were bounded",
    )

    accepted, channel = await decided_and_delivered(backend, legacy, PATIENT)

    outcomes = [e.event for e in await backend.stream(accepted.run_id)]
    [failed] = [e for e in outcomes if isinstance(e, MessageFailed)]
    assert failed.node_id == "bad" and failed.reason.startswith(f"{TEMPLATE_FAILED}: the operator *")
    assert [m.message for m in channel.sent] == ["See you soon"]
    assert any(isinstance(e, MessageDelivered) for e in outcomes)


@pytest.mark.parametrize(
    "template",
    [
        "{{ patient.many }}",
        "{{ patient.many ~ '!' }}",
        "{{ [patient.many, patient.many] | join(', ') }}",
        "{{ patient }}",
        "{{ patient.numbers | sort }}",
    ],
)
def test_a_list_or_an_object_is_never_printed_only_its_items_joined(template: str) -> None:
    failure = render(template, CONTEXT, html=False)

    assert failure == (f"{TEMPLATE_FAILED}: a list or an object cannot be printed (join a list's items)",)


def test_a_lists_items_are_joined_counted_and_picked() -> None:
    template = (
        "{{ patient.many | join | length }} {{ patient.numbers | sort | last }} {{ patient.many | first }}"
    )

    assert render(template, CONTEXT, html=False) == "10000 8999 a"
