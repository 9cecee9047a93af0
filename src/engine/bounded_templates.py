"""The template environment the engine renders messages with: Jinja2's sandbox, only the filters and tests
`domain.template_bounds` allows, each filter's result and the rendered text capped in size.

A template within those bounds evaluates each of its nodes once, so its cost follows its own size and the
context's; the caps stop the few filters that could still build a large value (`join` with a long separator
over a long list, say) before they build it, and keep every rendered message well inside an event's size
limit (PJS_MAX_EVENT_BYTES: 100,000 characters, sealed, take at most about 540 KB).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from jinja2 import Template, Undefined
from jinja2.sandbox import SandboxedEnvironment

from domain.template_bounds import FILTERS, TESTS

MAX_RENDERED_CHARS: Final = 100_000


class RenderedTooLarge(Exception):
    """A filter's result or the rendered text would pass MAX_RENDERED_CHARS."""


def bounded_environment(undefined: type[Undefined], *, html: bool) -> SandboxedEnvironment:
    """A sandbox with only the allowed filters (each capped) and tests; HTML autoescaped when `html`."""
    environment = SandboxedEnvironment(undefined=undefined, autoescape=html, keep_trailing_newline=True)
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


def _capped(filter_function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(filter_function)  # keeps Jinja's pass_context / pass_eval_context marks
    def capped(*args: Any, **kwargs: Any) -> Any:
        result = filter_function(*args, **kwargs)
        if isinstance(result, str | list | tuple) and len(result) > MAX_RENDERED_CHARS:
            raise RenderedTooLarge
        return result

    return capped


def _join_within_cap(join: Callable[..., Any]) -> Callable[..., Any]:
    """`join`, refused before it runs when its separators alone would pass the cap."""

    @functools.wraps(join)
    def checked_join(eval_ctx: Any, value: Iterable[Any], d: str = "", attribute: Any = None) -> Any:
        items = list(value) if not isinstance(value, Mapping) else list(value.keys())
        if len(items) > 1 and (len(items) - 1) * len(str(d)) > MAX_RENDERED_CHARS:
            raise RenderedTooLarge
        return join(eval_ctx, items, d, attribute)

    return checked_join
