"""How a consumer group reads the run-events topic: which group, batch sizes, waits, retries and commits."""

from __future__ import annotations

from dataclasses import dataclass

from events.broker import KafkaConnection
from events.catalogue import RunEventClass


@dataclass(frozen=True)
class GroupConfig:
    """Which group reads which topic, in batches of how many records, and how long it waits or retries."""

    kafka: KafkaConnection
    topic: str
    group: str
    batch_size: int = 500
    retry_seconds: float = 0.2
    max_retry_seconds: float = 10.0
    revoke_wait_seconds: float = 10.0
    stop_wait_seconds: float = 10.0  # how long a stop waits for the batch in flight before abandoning it
    event_types: tuple[RunEventClass, ...] | None = None  # decode and hand over only these; None: all
    poison_retries: int = 2  # retries of a batch failing with a non-transient error before isolating
    fetch_min_bytes: int = 1  # the broker answers a fetch once it has this much (or fetch_max_wait_ms passed)
    fetch_max_wait_ms: int = 500
    commit_interval_seconds: float = 0.0  # commit offsets at most this often (0: after every batch)
