"""The Postgres journey repository: immutable, versioned journey definitions (an edit is a new version)."""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from uuid import UUID

import asyncpg
import orjson

from domain.conditions import strictly_equal
from domain.journey import JourneyDefinition
from domain.validation import validate_stored_journey
from events.connection_loss import unavailable_on_connection_loss
from events.errors import AppendRaced
from events.pg import Queryable, transaction
from events.retry import RACE_ERRORS, retry_transient

_CACHE_SIZE: Final = 1024
# Bounded by the text parsed, not a count: a journey can be up to PJS_MAX_JOURNEY_BYTES (512 KiB) of JSON.
_PARSED_TEXT_BYTES: Final = 16 * 1024 * 1024


log = logging.getLogger(__name__)


class StoredJourneyInvalid(Exception):
    """A stored journey version no longer passes validation (validation rules were tightened after it)."""


@dataclass(frozen=True)
class StoredJourney:
    """One version of a journey, as stored."""

    journey_id: UUID
    version: int
    definition: JourneyDefinition
    created_at: datetime


@dataclass(frozen=True)
class JourneySummary:
    """A journey in a listing: its id, its latest version and that version's name."""

    journey_id: UUID
    name: str
    latest_version: int
    updated_at: datetime


@dataclass(frozen=True)
class JourneyKeyReused:
    """An idempotency key that already saved this journey version (or created this journey) from another
    definition: a refusal, as the trigger's `IdempotencyKeyReused` is."""

    journey_id: UUID
    version: int


_COLUMNS: Final = "journey_id, version, definition::text AS definition, created_at"

# Writers of one journey's versions queue on this advisory lock (the two-key space, apart from the runs'
# one-key locks), so each takes the next version in turn instead of racing for it.
_VERSION_LOCK_CLASS: Final = 0x4A524E59

# Sets the transaction-local pjs.actor ($5) that the journeys' audit trigger (0013) records, in the
# INSERT's own statement: the SELECT runs before the AFTER INSERT trigger, and no extra round trip.
_AS_ACTOR: Final = "(SELECT set_config('pjs.actor', $5, true)) AS actor"


class ParsedJourneys:
    """Validated definitions by the stored text they were parsed from, to share across repositories.

    A stored version never changes, yet every trigger reads its journey's latest version: validating it
    again, message templates included, was 5-7 % of the API's CPU per trigger. The API opens a repository
    per request (on the request's connection), so this cache outlives them. A hit needs the very text that
    the caller's own read returned, through its tenant's row-level security: it shows no one else's journey.
    Its budget counts the text kept, so it bounds the memory of every repository using it.
    """

    def __init__(self, max_text_bytes: int = _PARSED_TEXT_BYTES) -> None:
        self._definitions: OrderedDict[bytes, tuple[JourneyDefinition, int]] = OrderedDict()
        self._max_text_bytes = max_text_bytes
        self._text_bytes = 0

    def parse(self, row: asyncpg.Record) -> tuple[JourneyDefinition, bytes]:
        """The row's definition and the digest it is kept under; raises `StoredJourneyInvalid` if the
        definition no longer passes (never kept, so it is refused on every read)."""
        text = row["definition"].encode()
        digest = hashlib.sha256(text).digest()  # a digest: definitions can be large
        definition = self.definition(digest)
        if definition is None:
            definition = _validated(row)
            self._definitions[digest] = (definition, len(text))
            self._text_bytes += len(text)
            while self._text_bytes > self._max_text_bytes and len(self._definitions) > 1:
                _, (_, size) = self._definitions.popitem(last=False)
                self._text_bytes -= size
        return definition, digest

    def definition(self, digest: bytes) -> JourneyDefinition | None:
        """The definition kept under `digest`, if it still is."""
        known = self._definitions.get(digest)
        if known is None:
            return None
        self._definitions.move_to_end(digest)
        return known[0]


class PostgresJourneyRepository:
    """Saves and loads journey versions. Versions never change, so loads by (id, version) are cached."""

    def __init__(
        self, pool: Queryable, cache_size: int = _CACHE_SIZE, parsed: ParsedJourneys | None = None
    ) -> None:
        self._pool = pool
        # (id, version) -> where its definition is kept, and when it was stored. The definitions themselves
        # live in `parsed`, whose budget bounds what the repository holds however many versions it read.
        self._versions: OrderedDict[tuple[UUID, int], tuple[bytes, datetime]] = OrderedDict()
        self._cache_size = cache_size
        self._parsed = parsed or ParsedJourneys()

    async def create(
        self, journey_id: UUID, definition: JourneyDefinition, *, now: datetime, actor: str = "api"
    ) -> StoredJourney | JourneyKeyReused:
        """Store version 1 of a new journey; `actor` is who the audit log names. An id derived from an
        idempotency key may be taken already: by this very request retried when version 1 holds the
        same definition (that version is the answer), else the key is reused."""
        with unavailable_on_connection_loss("creating a journey"):
            row = await self._pool.fetchrow(
                f"INSERT INTO journeys (journey_id, version, name, definition, created_at)"
                f" SELECT $1, 1, $2, $3::jsonb, $4 FROM {_AS_ACTOR}"
                f" ON CONFLICT (journey_id, version) DO NOTHING RETURNING {_COLUMNS}",
                journey_id,
                definition.name,
                _encode(definition),
                now,
                actor,
            )
            if row is not None:
                return self._remember(row)
            first = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM journeys WHERE journey_id = $1 AND version = 1", journey_id
            )
        return self._replayed(first, definition) if first else JourneyKeyReused(journey_id, 1)

    async def add_version(
        self,
        journey_id: UUID,
        definition: JourneyDefinition,
        *,
        now: datetime,
        actor: str = "api",
        request_id: UUID | None = None,
    ) -> StoredJourney | JourneyKeyReused | None:
        """Store the next version of an existing journey; None when the journey does not exist. A
        `request_id` (derived from an idempotency key) that saved a version already answers with that
        version if it holds the same definition, else the key is reused."""
        lock = int.from_bytes(journey_id.bytes[:4], "big", signed=True)

        async def insert_next_version() -> tuple[asyncpg.Record | None, bool]:
            try:
                async with transaction(self._pool) as connection:  # a savepoint inside the API's transaction
                    await connection.execute(
                        "SELECT pg_advisory_xact_lock($1, $2)", _VERSION_LOCK_CLASS, lock
                    )
                    if request_id is not None:
                        saved = await connection.fetchrow(_SAVED_BY_REQUEST, journey_id, request_id)
                        if saved is not None:
                            return saved, True
                    args = (journey_id, definition.name, _encode(definition), now, actor, request_id)
                    return await connection.fetchrow(_INSERT_NEXT_VERSION, *args), False
            except asyncpg.UniqueViolationError as error:
                # A writer that did not queue on the lock took the version: try again, the one after.
                raise AppendRaced(str(error)) from error

        # Only a lost race is retried here. A connection lost during COMMIT may have stored the version, so
        # it is the caller's StoreUnavailable (503): retrying blindly could store the edit twice.
        with unavailable_on_connection_loss("adding a journey version"):
            row, replayed = await retry_transient(insert_next_version, retry_on=RACE_ERRORS)
        if row is None:
            return None
        return self._replayed(row, definition) if replayed else self._remember(row)

    def _replayed(
        self, row: asyncpg.Record, definition: JourneyDefinition
    ) -> StoredJourney | JourneyKeyReused:
        stored = self._remember(row)
        if strictly_equal(stored.definition.to_json_dict(), definition.to_json_dict()):
            return stored
        return JourneyKeyReused(stored.journey_id, stored.version)

    async def get(self, journey_id: UUID, version: int) -> StoredJourney | None:
        """One version of a journey, or None."""
        known = self._versions.get((journey_id, version))
        definition = None if known is None else self._parsed.definition(known[0])
        if known is not None and definition is not None:
            self._versions.move_to_end((journey_id, version))
            return StoredJourney(journey_id, version, definition, known[1])
        with unavailable_on_connection_loss("reading a journey version"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM journeys WHERE journey_id = $1 AND version = $2", journey_id, version
            )
        return None if row is None else self._remember(row)

    async def definition(self, journey_id: UUID, version: int) -> JourneyDefinition | None:
        """The engine's `JourneyDefinitions` port: a version stored but no longer valid is "not available"."""
        try:
            stored = await self.get(journey_id, version)
        except StoredJourneyInvalid:
            log.exception("journey %s v%d is stored but no longer valid", journey_id, version)
            return None
        return None if stored is None else stored.definition

    async def latest(self, journey_id: UUID) -> StoredJourney | None:
        """The journey's latest version, or None when it does not exist."""
        with unavailable_on_connection_loss("reading a journey"):
            row = await self._pool.fetchrow(
                f"SELECT {_COLUMNS} FROM journeys WHERE journey_id = $1 ORDER BY version DESC LIMIT 1",
                journey_id,
            )
        return None if row is None else self._remember(row)

    async def list_journeys(self) -> list[JourneySummary]:
        """Every journey with its latest version, oldest journey first."""
        with unavailable_on_connection_loss("listing journeys"):
            rows = await self._pool.fetch(
                """
                SELECT latest.journey_id, latest.name, latest.version, latest.created_at
                FROM (
                    SELECT DISTINCT ON (journey_id) journey_id, name, version, created_at FROM journeys
                    ORDER BY journey_id, version DESC
                ) latest
                JOIN journeys first ON first.journey_id = latest.journey_id AND first.version = 1
                ORDER BY first.created_at, latest.journey_id
                """
            )
        return [
            JourneySummary(row["journey_id"], row["name"], row["version"], row["created_at"]) for row in rows
        ]

    def _remember(self, row: asyncpg.Record) -> StoredJourney:
        definition, digest = self._parsed.parse(row)
        key = (row["journey_id"], row["version"])
        self._versions[key] = (digest, row["created_at"])
        self._versions.move_to_end(key)
        while len(self._versions) > self._cache_size:
            self._versions.popitem(last=False)
        return StoredJourney(row["journey_id"], row["version"], definition, row["created_at"])


_SAVED_BY_REQUEST: Final = f"SELECT {_COLUMNS} FROM journeys WHERE journey_id = $1 AND request_id = $2"

_INSERT_NEXT_VERSION: Final = f"""
    INSERT INTO journeys (journey_id, version, name, definition, created_at, request_id)
    SELECT $1, max(version) + 1, $2, $3::jsonb, $4, $6 FROM journeys, {_AS_ACTOR}
    WHERE journey_id = $1
    HAVING count(*) > 0
    RETURNING {_COLUMNS}
"""


def _encode(definition: JourneyDefinition) -> str:
    return orjson.dumps(definition.to_json_dict()).decode()


def _validated(row: asyncpg.Record) -> JourneyDefinition:
    parsed = validate_stored_journey(orjson.loads(row["definition"]))
    if isinstance(parsed, list):
        raise StoredJourneyInvalid(
            f"journey {row['journey_id']} v{row['version']}: " + "; ".join(p.message for p in parsed)
        )
    return parsed
