"""The pipeline's health as Prometheus gauges, read at scrape time: the facts behind /ready's warnings, so an
alert can fire on a role that stopped reporting, which its own metrics cannot show."""

from __future__ import annotations

from collections import defaultdict
from itertools import groupby

from prometheus_client.core import GaugeMetricFamily

from api.pipeline_health import PipelineHealth
from api.stall_warnings import live, running


def pipeline_gauges(health: PipelineHealth, stall_seconds: float) -> list[GaugeMetricFamily]:
    """None of a fact that could not be read (its check is logged as unavailable)."""
    families = _heartbeat_gauges(health, stall_seconds) if health.heartbeats is not None else []
    if health.timer is not None:
        families.append(
            GaugeMetricFamily(
                "pjs_timer_overdue_seconds",
                "Since the oldest pending delay was due (0 when none is due), read from delays.",
                value=max(health.timer.late_seconds or 0.0, 0.0),
            )
        )
    if health.relay is not None:
        families.append(
            GaugeMetricFamily(
                "pjs_outbox_unpublished_seconds",
                "How long the oldest committed event not yet published has waited (0 when none), read "
                "from the store: unlike pjs_relay_lag_seconds, it is there when no relay runs.",
                value=health.relay.waited_seconds or 0.0,
            )
        )
    return families


def _heartbeat_gauges(health: PipelineHealth, stall_seconds: float) -> list[GaugeMetricFamily]:
    heard = GaugeMetricFamily(
        "pjs_role_last_heard_seconds",
        "Since any instance of the role last wrote its heartbeat (roles that wrote none are absent).",
        labels=["role"],
    )
    silent = GaugeMetricFamily(
        "pjs_role_silent_instances",
        "Instances of the role not heard from within PJS_STALL_WARNING_SECONDS.",
        labels=["role"],
    )
    behind: dict[str, int] = defaultdict(int)
    stalled: dict[str, float] = defaultdict(float)
    for role, grouped in groupby(health.heartbeats or [], key=lambda row: row.role):
        rows = running(list(grouped))
        heard.add_metric([role], min(row.silent_seconds for row in rows))
        silent.add_metric([role], len(rows) - len(live(rows, stall_seconds)))
        for row in live(rows, stall_seconds):
            if row.consumer_group is not None:
                behind[row.consumer_group] += row.records_behind or 0
                since = row.seconds_since_progress or 0.0
                stalled[row.consumer_group] = max(stalled[row.consumer_group], since)
    return [heard, silent, *_group_gauges(behind, stalled)]


def _group_gauges(behind: dict[str, int], stalled: dict[str, float]) -> list[GaugeMetricFamily]:
    records = GaugeMetricFamily(
        "pjs_group_records_behind",
        "Records a consumer group's live members reported behind (lag plus batches in flight).",
        labels=["group"],
    )
    since = GaugeMetricFamily(
        "pjs_group_seconds_since_progress",
        "The longest a live member of the group has gone without handling a batch or finding none.",
        labels=["group"],
    )
    for group in sorted(behind):
        records.add_metric([group], behind[group])
        since.add_metric([group], stalled[group])
    return [records, since]
