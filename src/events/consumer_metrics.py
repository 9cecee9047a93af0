"""Consumer groups' Prometheus metrics: records handled, batch sizes, and lag per partition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError
from prometheus_client import Counter, Gauge, Histogram

from events.group_progress import group_progress
from events.pacing import Every

_POSITION_WAIT_SECONDS = 0.05
LAG_EVERY_SECONDS = 1.0
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)

UNDECODABLE_RECORDS = Counter(
    "pjs_consumer_undecodable_records", "Records a consumer group could not decode and skipped.", ["group"]
)
DEAD_LETTERS = Counter(
    "pjs_consumer_dead_letters", "Records a consumer group set aside in the dead-letter store.", ["group"]
)
HANDLED_RECORDS = Counter(
    "pjs_consumer_records",
    "Records a consumer group handled and recorded its place past (set-aside records included).",
    ["group"],
)
BATCH_RECORDS = Histogram(
    "pjs_consumer_batch_records",
    "Records per batch a consumer group fetched.",
    ["group"],
    buckets=BATCH_BUCKETS,
)
CONSUMER_LAG = Gauge(
    "pjs_consumer_lag_records",
    "Records in a partition past the group's position (the partition's end offset minus the position).",
    ["group", "partition"],
    multiprocess_mode="mostrecent",  # the member owning the partition sets it last
)


def partition_lag(end_offset: int | None, position: int) -> int | None:
    """Records after `position` up to the partition's end (the next offset to be written); None when
    the end is not known yet (no fetch answered for that partition)."""
    if end_offset is None:
        return None
    return max(end_offset - position, 0)


def group_lags(
    end_offsets: Mapping[TopicPartition, int | None], positions: Mapping[TopicPartition, int]
) -> dict[int, int]:
    """Lag per partition number, for the partitions whose end and position are both known."""
    lags: dict[int, int] = {}
    for tp, position in positions.items():
        lag = partition_lag(end_offsets.get(tp), position)
        if lag is not None:
            lags[tp.partition] = lag
    return lags


def batch_fetched(group: str, records: Mapping[TopicPartition, Sequence[object]]) -> None:
    BATCH_RECORDS.labels(group=group).observe(sum(len(batch) for batch in records.values()))


def batch_handled(group: str, records: Mapping[TopicPartition, Sequence[object]]) -> None:
    HANDLED_RECORDS.labels(group=group).inc(sum(len(batch) for batch in records.values()))


class LagObserver:
    """Sets a group's lag gauges, and the lag its heartbeat reports (`events.group_progress`), at most once
    every `every_seconds`: a consumer polls far more often than anyone scrapes, and each observation reads
    every assigned partition."""

    def __init__(
        self,
        group: str,
        every_seconds: float = LAG_EVERY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._group = group
        self._every = Every(every_seconds, clock)
        self._progress = group_progress(group)

    async def observe(self, consumer: AIOKafkaConsumer) -> None:
        if self._every.due():
            self._progress.lag = sum((await observe_lag(consumer, self._group)).values())


async def observe_lag(consumer: AIOKafkaConsumer, group: str) -> dict[int, int]:
    """Set (and answer) the lag of each assigned partition from the end offset the last fetch reported. No
    I/O: a fetched partition's position is known, unless a reset is pending, which is not waited for."""
    ends: dict[TopicPartition, int | None] = {}
    positions: dict[TopicPartition, int] = {}
    for tp in consumer.assignment():
        try:
            ends[tp] = consumer.highwater(tp)
            if ends[tp] is not None:
                async with asyncio.timeout(_POSITION_WAIT_SECONDS):
                    positions[tp] = await consumer.position(tp)
        except (IllegalStateError, AssertionError, TimeoutError):  # revoked meanwhile, or being reset
            continue
    lags = group_lags(ends, positions)
    for partition, lag in lags.items():
        CONSUMER_LAG.labels(group=group, partition=str(partition)).set(lag)
    return lags
