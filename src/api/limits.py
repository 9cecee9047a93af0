"""Size and shape limits at the HTTP edge: what a request may hold before anything is stored.

One walk over a parsed JSON body checks what every body shares (nesting depth, string lengths, text
Postgres can store); the body-size middleware refuses oversized requests before they are read.
Messages name the limit and its setting, never the refused content (it may be patient data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any, Final

from pydantic import AfterValidator
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BadRequest, ContentTooLarge, body
from domain.validation import Problem

INT32_MAX: Final = 2**31 - 1
"""The largest value of an `integer` column (versions): larger query values are refused on the way in."""

INT64_MAX: Final = 2**63 - 1
"""The largest value of a `bigint` column (audit ids, feed positions)."""

LIST_PAGE_MAX: Final = 500
LIST_PAGE_DEFAULT: Final = 50
"""A page of runs or journeys: at most 500 (`limit`), 50 unless asked."""

_BEYOND_64_BITS: Final = "Integers must fit in 64 bits: at most 9223372036854775807 either side of 0."

# Strings under these keys are identifiers or names, held to the shorter limit.
_SHORT_FIELDS: Final = frozenset(
    {"id", "name", "start_node_id", "next_node_id", "on_true_next_node_id", "on_false_next_node_id", "field"}
)


@dataclass(frozen=True)
class Limits:
    """The edge's limits; `pjs.settings` fills them from PJS_MAX_* variables."""

    max_body_bytes: int = 1_048_576
    max_patient_context_bytes: int = 65_536
    max_journey_bytes: int = 524_288
    max_journey_nodes: int = 1_000
    max_json_depth: int = 32
    max_id_length: int = 255
    max_text_length: int = 10_000
    request_seconds: float = 10.0
    max_batch_triggers: int = 1_000


def unstorable_text(text: str) -> str | None:
    """Why Postgres cannot store this text (NUL, or a lone surrogate UTF-8 cannot encode), or None."""
    if "\x00" in text:
        return "Text cannot contain the NUL character (\\u0000)."
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "Text cannot contain unpaired surrogate characters (not valid UTF-8)."
    return None


def _storable(text: str) -> str:
    reason = unstorable_text(text)
    if reason is not None:
        raise ValueError(reason)
    return text


StoredText = Annotated[str, AfterValidator(_storable)]
"""A path or query string that Postgres can store: no NUL, no lone surrogates."""


def json_problems(value: Any, limits: Limits, raw: bytes | None = None) -> list[Problem]:
    """Every place a parsed JSON body breaks the shared limits (depth, text, integers beyond 64 bits), at
    most one per path.

    orjson reads an integer beyond 64 bits as the nearest float, so `12345678901234567890123` and
    `...124` would be stored as one number: where the value holds an integral float that large, the
    `raw` body it was parsed from is read again with the standard library, which keeps integers exact.
    Only such bodies pay for the second parse."""
    problems: list[Problem] = []
    inexact: list[str] = []
    _walk(value, "", 1, limits, problems, inexact)
    if inexact and raw is not None:
        problems = []
        _walk(_exact(raw), "", 1, limits, problems, [])
    return problems


def exact_integers(value: Any, raw: bytes) -> Any:
    """`value`, or the `raw` body it came from read again with exact integers if it may hold one beyond 64
    bits (see `json_problems`): for a body whose parts are held to the limits one by one, later."""
    return _exact(raw) if _inexact(value) else value


def _exact(raw: bytes) -> Any:
    # orjson has refused any number too long for a double, so no integer here reaches Python's digit limit.
    return json.loads(raw)


def _inexact(value: Any) -> bool:
    if isinstance(value, float):
        return abs(value) > INT64_MAX and value.is_integer()
    if isinstance(value, list):
        return any(_inexact(item) for item in value)
    if isinstance(value, dict):
        return any(_inexact(item) for item in value.values())
    return False


def _walk(
    value: Any, path: str, depth: int, limits: Limits, problems: list[Problem], inexact: list[str]
) -> None:
    if isinstance(value, dict | list) and depth > limits.max_json_depth:
        problems.append(
            Problem(path, f"Nested deeper than {limits.max_json_depth} levels (PJS_MAX_JSON_DEPTH).")
        )
        return
    if isinstance(value, str):
        _check_text(value, path, limits, problems)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", depth + 1, limits, problems, inexact)
    elif isinstance(value, dict):
        for key, item in value.items():
            at = f"{path}.{key}" if path else str(key)
            _check_text(str(key), at, limits, problems, is_key=True)
            _walk(item, at, depth + 1, limits, problems, inexact)
    elif isinstance(value, int):
        if not -INT64_MAX <= value <= INT64_MAX:
            problems.append(Problem(path, _BEYOND_64_BITS))
    elif isinstance(value, float) and abs(value) > INT64_MAX and value.is_integer():
        inexact.append(path)


def _check_text(
    text: str, path: str, limits: Limits, problems: list[Problem], *, is_key: bool = False
) -> None:
    short = is_key or path.rpartition(".")[2] in _SHORT_FIELDS
    longest, setting = (
        (limits.max_id_length, "PJS_MAX_ID_LENGTH")
        if short
        else (limits.max_text_length, "PJS_MAX_TEXT_LENGTH")
    )
    reason = unstorable_text(text)
    if reason is None and len(text) > longest:
        what = "Keys" if is_key else "Ids and names" if short else "Text values"
        reason = f"{what} can be at most {longest} characters long ({setting})."
    if reason is not None:
        # A bad key makes its own path unprintable: report it at its parent.
        problems.append(Problem(path.rpartition(".")[0] if is_key else path, reason))


class BodySizeLimit:
    """ASGI middleware: a body over the limit is a 413, judged by Content-Length and by the bytes streamed."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            response = JSONResponse(body(self.too_large().message), status_code=413)
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                raise self.too_large()
            return message

        await self.app(scope, limited_receive, send)

    def too_large(self) -> ContentTooLarge:
        return ContentTooLarge(
            f"The request body is larger than {self.max_body_bytes} bytes (PJS_MAX_BODY_BYTES)."
        )


def beyond_limits(what: str, problems: list[Problem]) -> BadRequest:
    """A 400 whose message names each limit broken (the messages name limits, never content)."""
    broken = "; ".join(dict.fromkeys(problem.message for problem in problems))
    return BadRequest(f"The {what} is beyond the service's limits: {broken}", problems)
