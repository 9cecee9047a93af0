"""The timer's Prometheus metrics (multiprocess-safe when PROMETHEUS_MULTIPROC_DIR is set)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENESS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

TIMER_LATENESS = Histogram(
    "pjs_timer_lateness_seconds",
    "How long after its resume_at a delay fired (fired_at - resume_at, by the database clock).",
    buckets=LATENESS_BUCKETS,
)

TIMERS_FIRED = Counter("pjs_timer_fired", "Delays the timer fired (DelayElapsed appended).")
