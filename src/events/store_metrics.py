"""The event store's Prometheus metrics: append latency and events appended."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

APPEND_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

APPEND_SECONDS = Histogram(
    "pjs_event_append_duration_seconds",
    "Time of a standalone append transaction, commit and race retries included.",
    buckets=APPEND_BUCKETS,
)
APPENDED_EVENTS = Counter(
    "pjs_events_appended",
    "Events appended to the store (in a caller's transaction: counted before that commits).",
)
