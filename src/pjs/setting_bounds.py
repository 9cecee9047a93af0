"""The kinds of number a setting can be (a count, seconds, a port) with their bounds, and how a value outside
them is told to an operator: one line per problem, naming the environment variable and the range."""

from __future__ import annotations

import re
from typing import Annotated, Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, Field, ValidationError

Count = Annotated[int, Field(ge=1)]
"""A batch size, a pool size, a number of attempts or partitions: at least one."""
Retries = Annotated[int, Field(ge=0)]
"""How many more times to try: none is a choice."""
Seconds = Annotated[float, Field(gt=0)]
"""A wait, a period or a bound on time that must pass for anything to happen."""
SecondsOrNone = Annotated[float, Field(ge=0)]
"""A limit where 0 means "none" (a Postgres session timeout) or "do not wait"."""
WholeSeconds = Annotated[int, Field(ge=1)]
"""A TCP keepalive timing: the kernel takes whole seconds, at least one."""
Port = Annotated[int, Field(ge=1, le=65535)]
"""A TCP port."""

_FIELD_NAMED = re.compile(r'field "(\w+)"')
_BOUNDS = ((Gt, "gt", "above"), (Ge, "ge", "at least"), (Lt, "lt", "below"), (Le, "le", "at most"))


def settings_problems(error: ValidationError, model: type[BaseModel], prefix: str = "PJS_") -> list[str]:
    """One line per problem, e.g. `PJS_ENGINE_BATCH_SIZE=-5: Input should be greater than or equal to 1
    (allowed: at least 1)`. A value is repeated only for a number or a yes/no setting: another may be a
    secret."""
    lines = []
    for problem in error.errors(include_url=False):
        location = problem["loc"]
        message = problem["msg"].removeprefix("Value error, ")
        if not location:  # a rule across settings (PJS_OIDC_*): its message names the variables itself
            lines.append(message)
            continue
        name = str(location[0])
        field = model.model_fields.get(name)
        alias = field.validation_alias if field is not None else None
        variable = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
        shown = f"={problem['input']}" if _plain(field) and isinstance(problem["input"], str) else ""
        allowed = _allowed(field)
        lines.append(f"{variable}{shown}: {message}" + (f" (allowed: {allowed})" if allowed else ""))
    return lines


def _plain(field: Any) -> bool:
    """Whether the setting is a number or a yes/no, whose value may be printed."""
    annotation = getattr(field, "annotation", None)
    return annotation in (int, float, bool, int | None, float | None)


def _allowed(field: Any) -> str:
    """The range the setting allows, e.g. `at least 1 and at most 65535`; empty when unbounded."""
    return " and ".join(
        f"{words} {getattr(constraint, attribute)}"
        for constraint in getattr(field, "metadata", ())
        for kind, attribute, words in _BOUNDS
        if isinstance(constraint, kind)
    )


def source_problem(error: Exception, prefix: str = "PJS_") -> str:
    """pydantic-settings' own error (a list setting that is not JSON), with the variable named instead of
    the field: `PJS_ALLOWED_HOSTS: not valid JSON (a list is written ["a", "b"])`."""
    field = _FIELD_NAMED.search(str(error))
    if field is None:
        return str(error)
    return f"{prefix}{field.group(1)}".upper() + ': not valid JSON (a list is written ["a", "b"])'
