"""The lag computations, the HTTP labels and the dashboard's query parsing behind the operator metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import TopicPartition
from hypothesis import given
from hypothesis import strategies as st
from starlette.routing import Mount, Route

from api.http_metrics import UNMATCHED, route_template, status_class
from events.consumer_metrics import LagObserver, group_lags, partition_lag
from events.feed import FeedPosition
from events.relay_metrics import CAUGHT_UP, RelayLag, relay_lag
from pjs.role_metrics import serves_own_metrics
from pjs.settings import Settings
from support.dashboard import (
    Exposition,
    load_dashboard,
    metric_names,
    panel_expressions,
    queried_metrics,
    variable_metric_names,
    variable_queries,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_partition_read_to_its_end_has_no_lag() -> None:
    assert partition_lag(end_offset=42, position=42) == 0


def test_a_partition_lags_by_the_records_between_position_and_end() -> None:
    assert partition_lag(end_offset=42, position=30) == 12


def test_a_partition_whose_end_is_unknown_has_no_lag_figure() -> None:
    assert partition_lag(end_offset=None, position=30) is None


def test_a_position_past_a_stale_end_counts_as_no_lag() -> None:
    assert partition_lag(end_offset=10, position=12) == 0


@given(
    st.dictionaries(st.integers(0, 11), st.tuples(st.none() | st.integers(0, 10**9), st.integers(0, 10**9)))
)
def test_group_lags_cover_exactly_the_partitions_with_a_known_end(
    partitions: dict[int, tuple[int | None, int]],
) -> None:
    ends = {TopicPartition("t", p): end for p, (end, _) in partitions.items()}
    positions = {TopicPartition("t", p): position for p, (_, position) in partitions.items()}

    lags = group_lags(ends, positions)

    assert set(lags) == {p for p, (end, _) in partitions.items() if end is not None}
    for partition, lag in lags.items():
        end, position = partitions[partition]
        assert end is not None
        assert lag == max(end - position, 0)


def test_a_relay_with_nothing_after_its_checkpoint_is_caught_up() -> None:
    assert relay_lag(500, FeedPosition(90, 500), None, NOW) == CAUGHT_UP


def test_an_empty_store_has_no_relay_lag() -> None:
    assert relay_lag(None, FeedPosition(0, 0), None, NOW) == CAUGHT_UP


def test_relay_lag_counts_positions_past_the_checkpoint_and_the_oldest_waiting_events_age() -> None:
    lag = relay_lag(530, FeedPosition(90, 500), NOW - timedelta(seconds=7.5), NOW)

    assert lag == RelayLag(events=30, seconds=7.5)


def test_an_event_committed_behind_the_checkpoints_position_still_counts_as_waiting() -> None:
    # Feed order is by transaction: a later transaction's smaller position follows the checkpoint.
    lag = relay_lag(500, FeedPosition(90, 500), NOW - timedelta(seconds=1), NOW)

    assert lag == RelayLag(events=1, seconds=1.0)


def test_relay_lag_age_is_never_negative() -> None:
    assert relay_lag(501, FeedPosition(90, 500), NOW + timedelta(seconds=1), NOW).seconds == 0.0


def test_http_labels_name_the_route_template_never_the_path() -> None:
    assert route_template(Route("/journeys/runs/{run_id}", lambda request: None)) == "/journeys/runs/{run_id}"
    assert route_template(None) == UNMATCHED
    assert route_template(Mount("/static", routes=[])) == UNMATCHED


def test_status_classes() -> None:
    assert [status_class(s) for s in (200, 202, 404, 503)] == ["2xx", "2xx", "4xx", "5xx"]
    assert status_class(None) == "5xx"  # the request ended without an answer


def test_metric_names_leave_out_functions_labels_ranges_groupings_and_variables() -> None:
    expression = (
        "histogram_quantile(0.95, sum by (le, route) (rate(pjs_http_request_duration_seconds_bucket"
        '{route!="unmatched", method=~"GET|POST"}[$__rate_interval]))) / on (route) group_left '
        "sum(rate(pjs_http_request_duration_seconds_count[5m] offset 1h)) or vector(1e3) > bool 0"
    )

    assert metric_names(expression) == {
        "pjs_http_request_duration_seconds_bucket",
        "pjs_http_request_duration_seconds_count",
    }


def test_a_metric_selected_by_its_name_label_counts_too() -> None:
    assert metric_names('count({__name__="pjs_timer_fired_total"})') == {"pjs_timer_fired_total"}


def test_a_query_that_is_not_promql_fails_instead_of_yielding_no_names() -> None:
    with pytest.raises(ValueError):
        metric_names("sum(rate(pjs_timer_fired_total[$__rate_interval])")


def test_a_variables_label_values_query_selects_its_metric_only() -> None:
    dashboard = {
        "templating": {
            "list": [
                {"type": "query", "query": {"query": "label_values(pjs_consumer_records_total, group)"}},
                {"type": "datasource", "query": "prometheus"},
            ]
        }
    }

    assert queried_metrics(dashboard) == {"pjs_consumer_records_total"}


EXPOSITION = """\
# HELP pjs_x_seconds A histogram.
# TYPE pjs_x_seconds histogram
pjs_x_seconds_bucket{le="+Inf"} 1.0
pjs_x_seconds_count 1.0
pjs_x_seconds_sum 0.5
# HELP pjs_y A counter.
# TYPE pjs_y counter
pjs_y_total 3.0
# HELP pjs_z_count A gauge whose name ends like a histogram's series.
# TYPE pjs_z_count gauge
pjs_z_count 2.0
# HELP pjs_idle A labelled counter without any child yet.
# TYPE pjs_idle counter
"""


def test_queried_series_map_to_their_families_by_the_exposed_types() -> None:
    exposed = Exposition(EXPOSITION)

    assert exposed.family_of("pjs_x_seconds_bucket") == "pjs_x_seconds"
    assert exposed.family_of("pjs_y_total") == "pjs_y"
    assert exposed.family_of("pjs_z_count") == "pjs_z_count"  # a gauge, not a histogram's count
    assert exposed.missing({"pjs_x_seconds_sum", "pjs_y_total", "pjs_z_count"}) == []
    assert exposed.missing({"pjs_idle_total", "pjs_y", "pjs_nowhere_bucket"}) == [
        "pjs_idle_total",
        "pjs_nowhere_bucket",
        "pjs_y",
    ]


def test_the_dashboard_queries_pjs_metrics_through_its_datasource_variable() -> None:
    dashboard = load_dashboard()
    [source] = [v for v in dashboard["templating"]["list"] if v["type"] == "datasource"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]

    assert source["query"] == "prometheus"
    assert all(p["datasource"]["uid"] == "${" + source["name"] + "}" for p in panels)
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert list(panel_expressions(dashboard))
    assert all(metric_names(expression) for expression in panel_expressions(dashboard))
    assert all(variable_metric_names(query) for query in variable_queries(dashboard))
    assert all(name.startswith("pjs_") for name in queried_metrics(dashboard))


def test_only_worker_roles_given_a_port_outside_multiprocess_mode_serve_their_own_metrics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_port = Settings(role_metrics_port=29500)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)

    assert serves_own_metrics(["engine"], with_port)
    assert not serves_own_metrics(["api"], with_port)  # the API has GET /metrics
    assert not serves_own_metrics(["engine"], Settings())
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/somewhere")
    assert not serves_own_metrics(["engine"], with_port)  # `pjs dev`: the API's /metrics shows every role


class _AssignedNothing:
    """A consumer with no partitions, counting how often the lag is read from it."""

    def __init__(self) -> None:
        self.reads = 0

    def assignment(self) -> set[TopicPartition]:
        self.reads += 1
        return set()


async def test_a_group_reads_its_lag_at_most_once_a_second_however_often_it_polls() -> None:
    now = [100.0]
    observer = LagObserver("engine", every_seconds=1.0, clock=lambda: now[0])
    consumer = _AssignedNothing()

    for step in (0.0, 0.3, 0.6, 0.99, 1.0, 1.5, 2.0):
        now[0] = 100.0 + step
        await observer.observe(consumer)  # type: ignore[arg-type]

    assert consumer.reads == 3  # at 0, 1.0 and 2.0
