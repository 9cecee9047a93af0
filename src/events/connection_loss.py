"""A lost or refused Postgres connection, seen by the store and repositories, becomes `StoreUnavailable`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from events.errors import CONNECTION_ERRORS, StoreUnavailable


@contextmanager
def unavailable_on_connection_loss(what: str) -> Iterator[None]:
    """Raise `StoreUnavailable` (from the original error) when the block loses its connection to Postgres.

    Callers then handle one exception of our own hierarchy instead of asyncpg's and the OS's types.
    """
    try:
        yield
    except CONNECTION_ERRORS as error:
        raise StoreUnavailable(f"{what} did not complete, retry it: {error}") from error
