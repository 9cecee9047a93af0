"""Turning raw HTTP input into values: the JSON body (read as-is, for our own validators) and path ids."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import orjson
from fastapi import Depends, Request

from api.errors import BadRequest, NotFound


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON, any JSON value; the route's validator judges its shape."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type and media_type != "application/json" and not media_type.endswith("+json"):
        raise BadRequest(f"The request body must be JSON (Content-Type: application/json), not {media_type}.")
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        # orjson's message names the position only, never the content (which may be patient data).
        raise BadRequest(f"The request body is not valid JSON: {error}.") from None


JsonBody = Annotated[Any, Depends(json_body)]


def existing_id(raw: str, what: str) -> UUID:
    """A path id as a UUID; anything else cannot name an existing resource, so it is a 404."""
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"{what} {raw[:64]!r} does not exist.") from None


def optional_uuid(raw: str | None, name: str) -> UUID | None:
    """A UUID query filter: absent is None; anything but a UUID is a 400 naming the parameter."""
    if raw is None:
        return None
    try:
        return UUID(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a UUID, got {raw[:64]!r}.") from None
