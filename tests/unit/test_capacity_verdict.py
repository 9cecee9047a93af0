"""The `capacity` scenario's verdict on a step, and the figures it reports from its steps."""

from __future__ import annotations

from bench.pipeline_figures import Load
from bench.scenarios.capacity import P99_BOUND_MS, Step, _figures, _why_not_sustained
from bench.scenarios.pipeline import REFERENCE_JOURNEY

LOAD = Load(runs=300, rate_per_s=20.0)


def _step(offered: float, sustained: bool, cpu_ms: float = 30.0) -> Step:
    return Step(
        offered_per_s=offered,
        runs=int(offered * 15),
        sustained=sustained,
        why_not="" if sustained else "e2e p99 2000 ms > 1500 ms",
        e2e_p50_ms=1100.0,
        e2e_p99_ms=1200.0 if sustained else 2000.0,
        trigger_p99_ms=40.0,
        runs_per_s=offered * 0.9,
        events_per_s=offered * 11 * 0.9,
        cpu_ms_per_run=cpu_ms,
        cpu_ms_per_run_by_process={"engine": cpu_ms / 2, "kafka": cpu_ms / 2},
        generator_cpu_ms_per_run=cpu_ms / 10,
        hops_ms={"start_hop_p50_ms": 250.0, "start_hop_p99_ms": offered * 10},
        read_side_after_ms=offered * 20,
    )


def test_the_bound_is_the_reference_journeys_delay_plus_half_a_second() -> None:
    [wait] = [node for node in REFERENCE_JOURNEY["nodes"] if node["type"] == "DELAY"]

    assert wait["duration_seconds"] * 1000 + 500 == P99_BOUND_MS


def test_a_step_within_every_bound_is_sustained() -> None:
    assert _why_not_sustained(LOAD, 300, 19.5, True, 2.5, 1499.0) == ""


def test_a_step_fails_on_each_bound_it_misses() -> None:
    assert "299 of 300 triggers accepted" in _why_not_sustained(LOAD, 299, 20.0, True, 2.5, 1200.0)
    assert "generator" in _why_not_sustained(LOAD, 300, 18.0, True, 2.5, 1200.0)
    assert "not drained" in _why_not_sustained(LOAD, 300, 20.0, False, None, 1200.0)
    assert "read side still behind" in _why_not_sustained(LOAD, 300, 20.0, True, None, 1200.0)
    assert "e2e p99 1501 ms" in _why_not_sustained(LOAD, 300, 20.0, True, 2.5, 1501.0)


def test_the_figures_name_the_last_sustained_step_and_why_stepping_stopped() -> None:
    figures = _figures([_step(20, True, 40.0), _step(40, True, 30.0), _step(60, False, 25.0)])

    assert figures["max_sustained_runs_per_s"] == 40
    assert figures["cpu_ms_per_run"] == 30.0
    assert figures["events_per_s"] == 40 * 11 * 0.9
    assert figures["cpu_ms_per_run_kafka"] == 15.0
    assert figures["generator_cpu_ms_per_run"] == 3.0  # the top sustained step's, apart from cpu_ms_per_run
    assert figures["stopped_because"] == "e2e p99 2000 ms > 1500 ms"
    assert figures["step_60_sustained"] is False
    assert (figures["step_40_start_hop_p50_ms"], figures["step_60_start_hop_p99_ms"]) == (250.0, 600.0)
    assert figures["step_40_read_side_after_ms"] == 800.0  # the read side's catching up, per step


def test_no_sustained_step_reports_zero_and_the_first_steps_breakdown() -> None:
    figures = _figures([_step(20, False, 80.0)])

    assert figures["max_sustained_runs_per_s"] == 0.0
    assert figures["cpu_breakdown_step"] == 20
    assert figures["cpu_ms_per_run_engine"] == 40.0
