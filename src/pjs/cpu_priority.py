"""The api's share of the CPU on a machine its workers share (docs/architecture.md, "Supervision"): the
workers may yield it, and the api's process may be a scheduling group of its own."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

log = logging.getLogger(__name__)

READ_SIDE_ROLES = frozenset({"projector", "audit", "analytics"})
"""The roles off the runs' path: no run waits for them, so they may wait for the CPU."""


def yield_cpu_to_api(roles: Sequence[str], worker_niceness: int, read_side_niceness: int = 0) -> int:
    """Lower this process's CPU priority to what its roles call for (`wanted_niceness`); its niceness after.

    A caller waits on the api; the workers work from a backlog that Kafka and the outbox hold. On a machine
    they share, the read side (`READ_SIDE_ROLES`) yields by default: no run waits for it, and under a burst
    of triggers the api then gets its share of the CPU sooner (docs/architecture.md, "Supervision").
    An operator may lower every worker too: the api then answers sooner still, while every run takes longer
    end to end and the top sustained rate falls ("Worker niceness"), hence opt-in. A process already nicer
    than wanted is left as it is (an operator's `nice` wins). Must run before the process starts threads:
    on Linux a thread takes its niceness from the thread that starts it.
    """
    current = os.getpriority(os.PRIO_PROCESS, 0)
    wanted = wanted_niceness(roles, worker_niceness, read_side_niceness)
    if current >= wanted:
        return current
    os.setpriority(os.PRIO_PROCESS, 0, wanted)
    log.info("niceness %d for %s, below the api's", wanted, "+".join(roles))
    return wanted


def wanted_niceness(roles: Sequence[str], worker_niceness: int, read_side_niceness: int) -> int:
    """0 for a process with the api; `read_side_niceness` (or the workers', if higher) for one that runs
    only read-side roles; `worker_niceness` for any other."""
    if "api" in roles:
        return 0
    if set(roles) <= READ_SIDE_ROLES:
        return max(worker_niceness, read_side_niceness)
    return worker_niceness


def in_own_cpu_group(roles: Sequence[str], api_own_cpu_group: bool) -> bool:
    """Whether a supervisor starts the process of these roles in a session of its own: the api's, when
    `api_own_cpu_group`. Linux's autogroup scheduling (on in most distributions' kernels) shares the CPU
    between sessions first and between a session's processes second, so the api then weighs as much as all
    the workers of the supervisor's session together, not as one process among them, as in a container of
    its own. Niceness does not reach across sessions: the read side's yields to the workers, not the api."""
    return api_own_cpu_group and "api" in roles
