"""The template environment the engine renders messages with: Jinja2's sandbox, only the filters and tests
`domain.template_bounds` allows, and every value a render builds held to a size.

A template within those bounds evaluates each of its nodes once and names `patient` at most 32 times, so
its cost follows its own size and the context's. What could still grow is held here, before it is built:

- `+` of texts or lists is refused past MAX_RENDERED_CHARS;
- a filter is refused an input over it, and its result is held to it too (`join` counts its parts first);
- lists and objects are never printed or turned into text (`NotPrintable`): a list's text would be a
  Python repr, of any size; `join` its items instead;
- the rendered text is streamed and given up past MAX_RENDERED_CHARS, which keeps every message well inside
  an event's size limit (PJS_MAX_EVENT_BYTES: 100,000 characters, sealed, take at most about 540 KB).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from jinja2 import Template, Undefined
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from domain.template_bounds import FILTERS, TESTS

MAX_RENDERED_CHARS: Final = 100_000


class RenderedTooLarge(Exception):
    """A value the render would build, or the rendered text, would pass MAX_RENDERED_CHARS."""


class NotPrintable(Exception):
    """A template tried to print, or turn into text, a list or an object of the context."""


class FieldList(list[Any]):
    """A list of the context, or one a render built: it can be measured, joined and indexed, never printed."""

    def __str__(self) -> str:
        raise NotPrintable

    __repr__ = __str__


class FieldObject(dict[str, Any]):
    """An object of the context: its fields can be read, the object itself never printed."""

    def __str__(self) -> str:
        raise NotPrintable

    __repr__ = __str__


class _BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({"+"})

    def call_binop(self, context: Context, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name != "+":
            return super().call_binop(context, operator_name, left, right)
        if _sized(left) + _sized(right) > MAX_RENDERED_CHARS:
            raise RenderedTooLarge
        total = operator.add(left, right)
        return FieldList(total) if isinstance(total, list) else total


def bounded_environment(undefined: type[Undefined], *, html: bool) -> SandboxedEnvironment:
    """A sandbox with only the allowed filters (each capped) and tests; HTML autoescaped when `html`."""
    environment = _BoundedSandbox(
        undefined=undefined, autoescape=html, keep_trailing_newline=True, finalize=_printable
    )
    environment.filters = {name: _capped(environment.filters[name]) for name in FILTERS}
    environment.filters["join"] = _capped(_join_within_cap(environment.filters["join"]))
    environment.tests = {name: environment.tests[name] for name in TESTS}
    return environment


def render_bounded(template: Template, **context: Any) -> str:
    """The rendered text, given up (RenderedTooLarge) as soon as it passes MAX_RENDERED_CHARS."""
    parts: list[str] = []
    length = 0
    for part in template.generate(**context):
        length += len(part)
        if length > MAX_RENDERED_CHARS:
            raise RenderedTooLarge
        parts.append(part)
    return "".join(parts)


def _printable(value: Any) -> Any:
    if isinstance(value, list | tuple | dict | set):
        raise NotPrintable
    return value


def _capped(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_function)  # keeps Jinja's pass_context / pass_eval_context marks
    def capped(*args: Any, **kwargs: Any) -> Any:
        if any(_sized(value) > MAX_RENDERED_CHARS for value in (*args, *kwargs.values())):
            raise RenderedTooLarge  # before sorting, escaping or joining a value already over the cap
        result = filter_function(*args, **kwargs)
        if _sized(result) > MAX_RENDERED_CHARS:
            raise RenderedTooLarge
        return FieldList(result) if isinstance(result, list) else result

    return capped


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict) else 0


def _join_within_cap(join: Callable[..., Any]) -> Callable[..., Any]:
    """`join` of texts and numbers only, refused before it runs when its parts and separators would pass
    the cap."""

    @functools.wraps(join)
    def checked_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value) if not isinstance(value, Mapping) else list(value.keys())
        if attribute is None and any(isinstance(item, list | tuple | dict) for item in items):
            raise NotPrintable
        parts = sum(_sized(item) for item in items) + max(len(items) - 1, 0) * len(str(d))
        if parts > MAX_RENDERED_CHARS:
            raise RenderedTooLarge
        return join(eval_ctx, items, d, attribute)

    return checked_join
