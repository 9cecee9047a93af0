"""How the processes of one machine share its CPU: `pjs.cpu_priority` applies these (docs/architecture.md,
"Supervision", and docs/benchmarks.md for what each costs and buys)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings


class CpuSettings(BaseSettings):
    """Mixed into `pjs.settings.Settings`, whose configuration (the PJS_ prefix) applies to these fields."""

    # Opt-in; favours the api's latency over the workers' throughput on a shared machine.
    worker_niceness: int = Field(
        default=0, ge=0, le=19, description="CPU niceness of processes without the api; 0: as started."
    )
    # On by default: no run waits for the read side.
    read_side_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="CPU niceness of processes that run only projector, audit or analytics; 0: as started.",
    )
    api_own_cpu_group: bool = Field(
        default=False,
        description="Whether `pjs dev` starts the api's process in a session of its own, so that where the "
        "kernel shares the CPU between sessions (Linux's autogroup) the api weighs as much as every worker "
        "together, as it does in a container of its own.",
    )
