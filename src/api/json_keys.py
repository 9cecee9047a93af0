"""Keys a JSON body names twice in one object: refused, since which of the values counts is each reader's
own guess (the service would take the last, a gateway or an audit tool in front of it perhaps the first)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from domain.validation import Problem

_REPEATED: Final = "This key appears more than once in one object; each key may appear once."


@dataclass(frozen=True)
class _Repeats:
    """Stands for an object that names `keys` more than once, where the parse would have put it."""

    keys: tuple[str, ...]


def repeated_keys(raw: bytes) -> list[Problem]:
    """A problem at the path of each key an object of `raw` names more than once (an object inside such an
    object is not looked into). `raw` is JSON another parser has accepted; this one keeps every key."""
    try:
        parsed = json.loads(raw, object_pairs_hook=_object)
    except RecursionError:  # nested beyond any depth the limits allow, which they say
        return []
    problems: list[Problem] = []
    _find(parsed, "", problems)
    return problems


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any] | _Repeats:
    found = dict(pairs)
    if len(found) == len(pairs):
        return found
    seen: set[str] = set()
    repeated: dict[str, None] = {}  # in the order they repeat
    for key, _ in pairs:
        if key in seen:
            repeated[key] = None
        seen.add(key)
    return _Repeats(tuple(repeated))


def _find(value: Any, path: str, problems: list[Problem]) -> None:
    if isinstance(value, _Repeats):
        problems.extend(Problem(_key_path(path, key), _REPEATED) for key in value.keys)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _find(item, f"{path}[{index}]", problems)
    elif isinstance(value, dict):
        for key, item in value.items():
            _find(item, _key_path(path, key), problems)


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
