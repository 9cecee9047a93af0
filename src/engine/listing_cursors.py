"""Listing cursors: the last key of a page as opaque URL-safe text, and refused unless it parses back."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import TypeVar

Key = TypeVar("Key")


class InvalidCursor(ValueError):
    """The cursor was not one this service handed out."""

    def __init__(self) -> None:
        super().__init__("cursor is not valid; pass back the nextCursor of a previous page")


def encode_cursor(*parts: object) -> str:
    """The parts (none may contain `:`) joined and encoded: a client passes it back, never reads it."""
    return base64.urlsafe_b64encode(":".join(str(part) for part in parts).encode()).decode()


def decode_cursor(cursor: str, parse: Callable[[list[str]], Key]) -> Key:
    """The key `parse` makes of the cursor's parts; InvalidCursor if it is not text this service encoded
    or `parse` raises ValueError or OverflowError (a wrong count of parts, a value out of its range)."""
    try:
        decoded = base64.urlsafe_b64decode(cursor.encode("ascii")).decode("ascii")
        return parse(decoded.split(":"))
    except (ValueError, OverflowError, binascii.Error, UnicodeError):
        raise InvalidCursor from None
