"""Logging set-up for every role: one line per record, never patient fields (callers log ids only)."""

from __future__ import annotations

import logging


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s [%(process)d] %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
