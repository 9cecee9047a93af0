"""Loopback ports for tests that start their own local services, away from the shared ones."""

from __future__ import annotations

import random
import socket

from pjs.services.ports import listener_pids

# Below Linux's default ephemeral range and away from the default local service ports (2xxxx).
_FIRST, _LAST = 21000, 24999


def free_port_below_ephemeral_range() -> int:
    """A port nothing listens on and that can be bound now, picked at random to keep parallel runs apart."""
    for port in random.sample(range(_FIRST, _LAST), 200):
        if listener_pids(port):
            continue
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port between {_FIRST} and {_LAST}")
