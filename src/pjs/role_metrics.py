"""A worker role's own /metrics listener on loopback, for a Prometheus agent on its host."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from prometheus_client import start_http_server

from pjs.process import process_name
from pjs.settings import Settings

log = logging.getLogger("pjs")

LOOPBACK = "127.0.0.1"


def serves_own_metrics(roles: Sequence[str], settings: Settings) -> bool:
    """A process without the API serves its roles' metrics itself when a port is set, unless it writes them
    to a multiprocess directory that the API's /metrics already reads (`pjs dev`)."""
    shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
    return "api" not in roles and settings.role_metrics_port is not None and not shared


def serve_role_metrics(roles: Sequence[str], settings: Settings) -> None:
    """Start the listener (a daemon thread) if this process serves its own metrics; loopback only, like the
    API's unauthenticated ops probes."""
    if not serves_own_metrics(roles, settings) or settings.role_metrics_port is None:
        return
    start_http_server(settings.role_metrics_port, addr=LOOPBACK)
    log.info("role %s serves its metrics on %s:%d", process_name(roles), LOOPBACK, settings.role_metrics_port)
