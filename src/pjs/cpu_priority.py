"""Worker processes yield the CPU to the api on a machine they share (docs/architecture.md, "Supervision")."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

log = logging.getLogger(__name__)


def yield_cpu_to_api(roles: Sequence[str], worker_niceness: int) -> int:
    """Lower this process's CPU priority to `worker_niceness` unless it serves the api; its niceness after.

    A caller waits on the api; the workers work from a backlog that Kafka and the outbox hold. On a machine
    they share, an operator may want the api's requests first and the workers to catch up after: under a
    burst of triggers the api then answers sooner, while every run takes longer end to end and the top
    sustained rate falls (docs/benchmarks.md, "Worker niceness"), hence opt-in. A process already nicer
    than `worker_niceness` is left as it is (an operator's `nice` wins). Must run before the process starts
    threads: on Linux a thread takes its niceness from the thread that starts it.
    """
    current = os.getpriority(os.PRIO_PROCESS, 0)
    if "api" in roles or current >= worker_niceness:
        return current
    os.setpriority(os.PRIO_PROCESS, 0, worker_niceness)
    log.info("worker roles run at niceness %d, below the api's", worker_niceness)
    return worker_niceness
