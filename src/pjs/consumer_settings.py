"""The consumer groups' part of the settings: how they fetch, commit and set aside records."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings

from pjs.setting_bounds import Retries


class ConsumerSettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields."""

    # Dead letters: how often a batch failing with a non-transient error is retried before its records are
    # handled one at a time and the failing ones set aside in the dead_letters table.
    consumer_poison_retries: Retries = 2

    # Pipeline throughput (`capacity` in docs/benchmarks.md): the broker holds a consumer's fetch until it has
    # fetch_min_bytes or fetch_max_wait_ms passed; aiokafka's 1 byte / 500 ms made a fetch per relay write.
    # Offsets are committed at most every commit_interval_ms: a commit per batch cost 4-9 % of the CPU.
    consumer_fetch_min_bytes: int = Field(default=65536, ge=1, description="Least data a fetch waits for.")
    consumer_fetch_max_wait_ms: int = Field(
        default=50, ge=0, le=500, description="Longest the broker holds a fetch for fetch_min_bytes, ms."
    )
    # The engine and delivery are on a run's path; the read side (projector, audit, analytics) is not, so it
    # fetches less often, in larger batches: 4-6 % less CPU per run at 100 runs/s (docs/benchmarks.md).
    consumer_read_side_fetch_max_wait_ms: int = Field(
        default=250,
        ge=0,
        le=500,
        description="The same for the projector, audit and analytics groups, ms: how far their rows may lag.",
    )
    consumer_commit_interval_ms: int = Field(
        default=1000, ge=0, le=60_000, description="Least time between a group's offset commits, ms."
    )
