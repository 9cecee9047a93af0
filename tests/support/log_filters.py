"""A filter on pytest's log capture for one test only.

pytest keeps one capture handler for the whole session (`caplog.handler`), so a filter added to it and left
there would go on quieting or lowering later tests' lines, which then fail far from the cause.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def filtered_capture(caplog: pytest.LogCaptureFixture, log_filter: logging.Filter) -> Iterator[None]:
    """`log_filter` on the captured lines while the block runs, and on none after it."""
    caplog.handler.addFilter(log_filter)
    try:
        yield
    finally:
        caplog.handler.removeFilter(log_filter)
