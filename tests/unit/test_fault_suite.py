"""The fault suite's own pieces: the load takes both branches, the provider counts repeated acceptances."""

from __future__ import annotations

import httpx
from faults.load import patient, reference_journey
from faults.provider import running_provider
from faults.services import restart_problem

from domain.validation import validate_journey


def test_the_reference_journey_is_valid_and_waits_the_given_delay() -> None:
    journey = reference_journey(delay_seconds=3.0)
    assert not isinstance(validate_journey(journey), list)
    assert [n["duration_seconds"] for n in journey["nodes"] if n["type"] == "DELAY"] == [3.0]


def test_patients_alternate_over_and_under_the_age_condition() -> None:
    ages = [patient(index)["age"] for index in range(4)]
    assert [age > 65 for age in ages] == [True, False, True, False]


def test_the_provider_reports_a_key_accepted_twice_but_not_one_refused_then_accepted() -> None:
    with running_provider(port=0) as provider:

        def send(key: str) -> int:
            return httpx.post(provider.url, json={}, headers={"Idempotency-Key": key}).status_code

        provider.mode = "fail"
        assert send("run:welcome:2") == 500
        provider.mode = "accept"
        assert [send("run:welcome:2"), send("run:reminder:7"), send("run:reminder:7")] == [200, 200, 200]
        assert provider.accepted_twice() == {"run:reminder:7": 2}
        assert provider.requests() == 4


def test_a_broker_restart_counts_only_when_up_started_a_new_process_that_alone_listens() -> None:
    assert restart_problem(killed=100, started=True, pid=200, listeners={200}) is None
    assert "found a broker running" in str(restart_problem(100, started=False, pid=100, listeners={100}))
    assert "left pid 100 behind" in str(restart_problem(100, started=True, pid=100, listeners={100}))
    assert "held by ['300']" in str(restart_problem(100, started=True, pid=200, listeners={300}))
    assert "held by nobody" in str(restart_problem(100, started=True, pid=200, listeners=set()))
