"""Query strings held to what the route declares: a parameter it does not take, or one sent twice, is a 400;
an integer parameter is its digits (`integer_query`, and `integer_path` for the rare integer in a path).

Ignoring `?journey_id=` (for `journeyId`) would widen a listing to every run of the clinic, and a client
acting on that listing (cancelling "the patient's runs") would act on all of them; a repeated parameter
would leave it to chance which value counts.
"""

from __future__ import annotations

import re
from typing import Any, Final

from fastapi import Path, Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from api.errors import BadRequest
from domain.validation import Problem

# Only names shaped like parameter names are echoed: anything else could be text the client typed.
_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9_.\-\[\]]{0,63}")
_DIGITS: Final = re.compile(r"-?[0-9]+")


def _written_as_digits(value: object) -> object:
    # pydantic's lax mode would read 75.0, 7_5, +75 and " 75 " as 75: a client sending them likely means
    # something else (a float, a template left unfilled), and the limits table promises a 400.
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        raise PydanticCustomError(
            "int_digits", "Must be an integer written as digits, with a minus sign if negative (e.g. 75)."
        )
    return value


_WRITTEN_AS_DIGITS: Final = BeforeValidator(_written_as_digits)


def integer_query(
    *,
    ge: int,
    le: int,
    alias: str | None = None,
    description: str | None = None,
    examples: list[int] | None = None,
) -> Any:
    """`Query(...)` for an integer parameter (`Annotated[int, integer_query(ge=1, le=500)]`): ASCII digits
    with an optional leading `-`, from `ge` to `le`; anything else (`75.0`, `7_5`, `+75`, ` 75`) is a 400
    naming it. Its OpenAPI schema stays an integer with its minimum and maximum."""
    parameter = Query(alias=alias, ge=ge, le=le, description=description, examples=examples)
    # The check goes after the bounds: pydantic (2.14) documents bounds laid over a validator wrapping an
    # int as `ge`/`le`, words JSON Schema lacks, and only those of a bare int as `minimum`/`maximum`.
    parameter.metadata.append(_WRITTEN_AS_DIGITS)
    return parameter


def integer_path(*, ge: int, le: int) -> Any:
    """`Path(...)` for an integer path segment, held to `integer_query`'s rule: `1.0`, `+1`, ` 1` are a 400
    naming it, as `abc` is; leading zeros are digits (`01` is 1), as in a query."""
    parameter = Path(ge=ge, le=le)
    parameter.metadata.append(_WRITTEN_AS_DIGITS)
    return parameter


async def declared_query_only(request: Request) -> None:
    """Refuse query parameters the route does not declare, and any declared one given more than once."""
    query = request.query_params
    if not query:
        return
    route = request.scope.get("route")
    # Walked on each request that has a query string (a few fields): APIRoute cannot key a cache.
    declared = frozenset(_query_names(route.dependant) if isinstance(route, APIRoute) else ())
    problems = [_problem(name, declared, len(query.getlist(name))) for name in dict.fromkeys(query.keys())]
    refused = [problem for problem in problems if problem is not None]
    if refused:
        count = f"{len(refused)} problem{'s' if len(refused) != 1 else ''}"
        raise BadRequest(f"The query string is not valid ({count}).", refused)


def _problem(name: str, declared: frozenset[str], times: int) -> Problem | None:
    takes = f"this operation takes {', '.join(sorted(declared))}" if declared else "it takes none"
    if name not in declared:
        shown = name if _NAME.fullmatch(name) else "(unnamed)"
        return Problem(shown, f"Unknown query parameter: {takes}.")
    if times > 1:
        return Problem(name, f"Sent {times} times: send it once.")
    return None


def _query_names(dependant: Dependant) -> list[str]:
    names = [field.alias for field in dependant.query_params]
    for sub in dependant.dependencies:
        names.extend(_query_names(sub))
    return names
