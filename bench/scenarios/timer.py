"""`timer`: how late `pjs run timer` fires a wave of delays among many sleeping runs, and how fast it drains.

For each of two table sizes (10,000 and 1,000,000 sleeping runs in full mode), in a fresh timer process:
1. the sleeping runs are bulk-loaded (`bench.bulk`, COPY), resume_at a month ahead, and the tables analysed;
2. `pjs run timer` starts (a real process, production settings) and its RSS is sampled throughout;
3. a wave of runs is loaded in one transaction, due over `wave_seconds` starting `lead_seconds` later,
   with the `pjs_delays` notification the store's delay projection sends. Lateness is resume_at -> the
   DelayElapsed's *commit*, as a LISTEN on the store's `pjs_events` channel observes it (see `_commits`);
4. a backlog of runs already overdue is loaded the same way; the drain rate runs from that load's commit
   to the commit of the last firing.
Every fired run is checked to have exactly one DelayElapsed, and the sleeping runs none.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

import asyncpg

from bench import bulk
from bench.bulk_check import check_against_store
from bench.child import Watch, watched
from bench.errors import BenchFailure
from bench.roles import role_process
from bench.sandbox import Sandbox
from bench.scenario import Figures, Scenario, ScenarioContext
from engine.delays import DELAY_SCHEDULED_CHANNEL as DELAYS_CHANNEL
from events.key_ring import KeyRing, load_key_ring

_LOAD_CHUNK_RUNS = 50_000
_SLEEP_AHEAD = timedelta(days=30)
_START_SECONDS = 60  # for the timer process to migrate, connect and reach its first sleep


@dataclass(frozen=True)
class TimerSizes:
    pending: tuple[int, int]  # sleeping runs (resume_at far ahead) in the small and the large table
    wave: int
    wave_seconds: float
    lead_seconds: float  # from loading the wave to its first resume_at
    backlog: int


QUICK = TimerSizes(pending=(2_000, 20_000), wave=1_000, wave_seconds=3, lead_seconds=2, backlog=5_000)
FULL = TimerSizes(pending=(10_000, 1_000_000), wave=10_000, wave_seconds=10, lead_seconds=3, backlog=100_000)


async def run(context: ScenarioContext) -> Figures:
    sizes = QUICK if context.config.quick else FULL
    limit = context.config.sizes.phase_seconds
    figures: Figures = {"wave": sizes.wave, "wave_seconds": sizes.wave_seconds, "backlog": sizes.backlog}
    for label, pending in zip(("small", "large"), sizes.pending, strict=True):
        measured = await _measure(context.sandbox, pending, sizes, limit)
        figures.update({f"{label}_{name}": value for name, value in measured.items()})
    figures["rss_growth_mb"] = round(float(figures["large_rss_mb"]) - float(figures["small_rss_mb"]), 1)
    return figures


async def _measure(box: Sandbox, pending: int, sizes: TimerSizes, limit: float) -> Figures:
    """One table size, from empty tables, with a timer process of its own.

    The bench's own connection is the schema owner's: the application role the timer runs as may not
    TRUNCATE, VACUUM or write the store other than through appends.
    """
    connection = await asyncpg.connect(box.migration_database_url)
    ring = load_key_ring(box.master_key_file)
    commits = _Commits()
    try:
        await connection.execute("TRUNCATE events, run_status, delays, message_deliveries, patient_keys")
        load_started = time.perf_counter()
        await _load_sleeping(connection, ring, pending)
        load_seconds = time.perf_counter() - load_started
        await connection.add_listener("pjs_events", commits.on_notify)
        async with (
            # The timer uses no Kafka topic; the name only completes the environment.
            role_process(["-m", "pjs.cli", "run", "timer"], box.role_environment("unused")) as process,
            watched(process) as watch,
        ):
            await _until_sleeping(box.worker_database_url, process, watch)
            lateness, fired_lateness = await _wave(connection, ring, commits, sizes, limit)
            drain_per_s = await _backlog(connection, ring, commits, sizes.backlog, limit)
            if process.returncode is not None:
                raise BenchFailure(f"the timer exited with {process.returncode}: {list(watch.stderr_tail)}")
        await _check_exactly_once(connection, sizes.wave + sizes.backlog, pending)
    finally:
        await connection.close()
    return {
        "pending": pending,
        "lateness_p50_ms": _percentile(lateness, 0.50),
        "lateness_p99_ms": _percentile(lateness, 0.99),
        "lateness_max_ms": round(max(lateness), 1),
        "fired_at_lateness_p99_ms": _percentile(fired_lateness, 0.99),
        "backlog_drain_per_s": drain_per_s,
        "rss_mb": watch.peak_rss_mb,
        "load_seconds": round(load_seconds, 1),
    }


async def _load_sleeping(connection: asyncpg.Connection, ring: KeyRing, pending: int) -> None:
    now = await _database_now(connection)
    seed = f"pending-{pending}"
    builders = [
        partial(
            bulk.sleeping_runs,
            ring,
            seed,
            range(start, min(start + _LOAD_CHUNK_RUNS, pending)),
            lambda _: now,
            lambda number: now + _SLEEP_AHEAD + timedelta(milliseconds=number),
        )
        for start in range(0, pending, _LOAD_CHUNK_RUNS)
    ]
    await bulk.load(connection, builders)
    await check_against_store(
        connection, ring, [bulk.run_id(seed, n) for n in range(0, pending, pending // 50)]
    )
    # What autovacuum gives a table that grew slowly (statistics, visibility map); after a bulk load it would
    # otherwise start right in the measured phases.
    await connection.execute("VACUUM (ANALYZE) events, run_status, delays, patient_keys")


async def _until_sleeping(app_url: str, process: asyncio.subprocess.Process, watch: Watch) -> None:
    """Wait until the timer LISTENs for new delays (it claims due rows next, then sleeps until one is due).

    The wave is due `lead_seconds` after it is loaded, long after that first claim of an empty queue.
    Watched as the timer's own role: pg_stat_activity shows a session's query only to that role.
    """
    connection = await asyncpg.connect(app_url)
    try:
        deadline = time.perf_counter() + _START_SECONDS
        while time.perf_counter() < deadline:
            if process.returncode is not None:
                raise BenchFailure(f"the timer exited with {process.returncode}: {list(watch.stderr_tail)}")
            asleep = await connection.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND query LIKE 'LISTEN %pjs_delays%'"
            )
            if asleep:
                return
            await asyncio.sleep(0.1)
    finally:
        await connection.close()
    raise BenchFailure(f"the timer did not start within {_START_SECONDS}s: {list(watch.stderr_tail)}")


async def _wave(
    connection: asyncpg.Connection, ring: KeyRing, commits: _Commits, sizes: TimerSizes, limit: float
) -> tuple[list[float], list[float]]:
    """Lateness in ms of each wave run: to the observed commit, and to the recorded fired_at."""
    after = await _last_position(connection)
    commits.clear()
    now = await _database_now(connection)
    first = now + timedelta(seconds=sizes.lead_seconds)
    step = timedelta(seconds=sizes.wave_seconds) / sizes.wave
    rows = bulk.sleeping_runs(
        ring, "wave", range(sizes.wave), lambda _: now, lambda number: first + step * number
    )
    await _load_due(connection, rows, first)
    await _until_fired(connection, after, sizes.wave, sizes.lead_seconds + sizes.wave_seconds + limit, "wave")
    fired = await _fired(connection, after)
    committed_at = commits.by_transaction([transaction for transaction, _, _ in fired])
    lateness = [(committed_at[tx] - resume_at).total_seconds() * 1000 for tx, resume_at, _ in fired]
    fired_lateness = [(fired_at - resume_at).total_seconds() * 1000 for _, resume_at, fired_at in fired]
    return lateness, fired_lateness


async def _backlog(
    connection: asyncpg.Connection, ring: KeyRing, commits: _Commits, backlog: int, limit: float
) -> float:
    """Fired per second, from the commit that made `backlog` runs overdue to the commit of the last one."""
    after = await _last_position(connection)
    commits.clear()
    now = await _database_now(connection)
    overdue = now - timedelta(hours=1)
    rows = bulk.sleeping_runs(
        ring,
        "backlog",
        range(backlog),
        lambda _: overdue - timedelta(days=1),
        lambda number: overdue + timedelta(microseconds=10 * number),
    )
    await _load_due(connection, rows, overdue)
    loaded_at = datetime.now(UTC)
    await _until_fired(connection, after, backlog, limit, "backlog")
    committed_at = commits.by_transaction(
        [transaction for transaction, _, _ in await _fired(connection, after)]
    )
    seconds = (max(committed_at.values()) - loaded_at).total_seconds()
    return round(backlog / seconds, 1)


async def _fired(connection: asyncpg.Connection, after: int) -> list[tuple[int, datetime, datetime]]:
    """(transaction, resume_at, fired_at) of every DelayElapsed after `after`."""
    rows = await connection.fetch(
        """
        SELECT transaction_id::text::bigint AS transaction_number,
               (data->>'resume_at')::timestamptz AS resume_at, (data->>'fired_at')::timestamptz AS fired_at
        FROM events WHERE position > $1 AND type = 'DelayElapsed'
        """,
        after,
    )
    return [(row["transaction_number"], row["resume_at"], row["fired_at"]) for row in rows]


async def _last_position(connection: asyncpg.Connection) -> int:
    return int(await connection.fetchval("SELECT coalesce(max(position), 0) FROM events"))


async def _check_exactly_once(connection: asyncpg.Connection, fired: int, sleeping: int) -> None:
    row = await connection.fetchrow(
        "SELECT count(*) AS events, count(DISTINCT run_id) AS runs FROM events WHERE type = 'DelayElapsed'"
    )
    assert row is not None
    left = await connection.fetchval("SELECT count(*) FROM delays")
    if (row["events"], row["runs"], left) != (fired, fired, sleeping):
        raise BenchFailure(
            f"{row['events']} DelayElapsed for {row['runs']} runs and {left} delays left;"
            f" expected {fired} once each and {sleeping} still asleep"
        )


async def _load_due(connection: asyncpg.Connection, rows: bulk.Rows, earliest: datetime) -> None:
    """One transaction with the notification the delay projection sends for the earliest new resume_at."""
    async with connection.transaction():
        await bulk.copy_rows(connection, rows)
        await connection.execute("SELECT pg_notify($1, $2)", DELAYS_CHANNEL, earliest.isoformat())


async def _until_fired(
    connection: asyncpg.Connection, after: int, count: int, limit: float, what: str
) -> None:
    deadline = time.perf_counter() + limit
    query = "SELECT count(*) FROM events WHERE position > $1 AND type = 'DelayElapsed'"
    while (fired := await connection.fetchval(query, after)) < count:
        if time.perf_counter() > deadline:
            raise BenchFailure(f"{what}: {fired} of {count} delays fired after {limit:.0f}s")
        await asyncio.sleep(0.05)


async def _database_now(connection: asyncpg.Connection) -> datetime:
    now: datetime = await connection.fetchval("SELECT now()")
    return now


def _percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile, rounded for reporting."""
    ordered = sorted(values)
    return round(ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)], 1)


class _Commits:
    """When each firing transaction committed, as seen by a LISTEN on the store's `pjs_events` channel.

    The store notifies in every append transaction, and Postgres delivers a notification only once its
    transaction has committed, so its arrival is an upper bound on the commit time, late by the delivery
    (well under a millisecond on loopback with this process idle). `fired_at` (the transaction's `now()`)
    is a lower bound: it is taken when the firing transaction starts, before its writes. One timer fires
    its batches one transaction after another, so the n-th notification belongs to the n-th transaction
    in transaction-id order; a count that does not match fails the scenario rather than guess.
    """

    def __init__(self) -> None:
        self.arrivals: list[datetime] = []

    def clear(self) -> None:
        self.arrivals.clear()

    def on_notify(self, _connection: object, _pid: int, _channel: str, _payload: object) -> None:
        self.arrivals.append(datetime.now(UTC))  # same host: the database clock is this clock

    def by_transaction(self, transactions: list[int]) -> dict[int, datetime]:
        ordered = sorted(set(transactions))
        if len(ordered) != len(self.arrivals):
            raise BenchFailure(
                f"{len(self.arrivals)} commit notifications for {len(ordered)} firing transactions"
            )
        return dict(zip(ordered, self.arrivals, strict=True))


SCENARIO = Scenario(
    "timer",
    "`pjs run timer` firing a wave among 10k and 1M sleeping runs (lateness, RSS); draining a backlog",
    run,
)
