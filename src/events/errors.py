"""The event store's short exception hierarchy: failures are exceptions, expected refusals are values."""

import asyncpg


class EventStoreError(Exception):
    """Base of every failure raised by the events package."""


class UnknownEventType(EventStoreError):
    """A stored or received event names a type this code does not know."""


class UnsupportedSchemaVersion(EventStoreError):
    """An event's schema version is newer than this code knows, or has no upcaster path."""


class InvalidEventPayload(EventStoreError):
    """An event's payload is not valid JSON for its type, or cannot be encoded as JSON."""


class StoreUnavailable(EventStoreError):
    """Postgres could not be reached or dropped the connection. Safe to retry the same append.

    The transaction did not commit, unless the connection dropped during COMMIT itself; then a retry of
    the same append finds the run's head moved and gets a ConcurrencyConflict, never a duplicate.
    """


class PoolExhausted(StoreUnavailable):
    """Every pooled connection stayed busy for the whole wait; nothing was sent to Postgres."""


class AppendRejected(EventStoreError):
    """A malformed append (wrong run, gap in versions, payload failing its model); nothing was written."""


class EventTooLarge(AppendRejected):
    """An event whose Kafka record would exceed the store's limit: the relay could never publish it.

    Names the event type and sizes only, never the payload.
    """

    def __init__(self, event_type: str, record_bytes: int, limit: int) -> None:
        super().__init__(
            f"a {event_type} event would make a Kafka record of about {record_bytes} bytes; "
            f"the limit is {limit} bytes"
        )
        self.event_type = event_type
        self.record_bytes = record_bytes
        self.limit = limit


class AppendRaced(EventStoreError):
    """The append lost a race inside its transaction (a racing append won, committed behind our
    transaction id, or a deadlock was broken): roll the whole transaction back and try again."""


CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,  # includes "connection does not exist"
    asyncpg.exceptions.OperatorInterventionError,  # server shutting down, restarting, backend terminated
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
"""What a lost or refused Postgres connection raises: the transaction did not commit, so a retry is safe."""
